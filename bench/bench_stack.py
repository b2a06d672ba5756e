"""How long the native stack takes to become healthy from cold, and the memory each part holds.

It runs on a private stack (bench/private_stack.py), so it neither disturbs nor depends on a
stack started with `make up`.
"""

from __future__ import annotations

import time

from bench import figure
from bench.private_stack import private_stack
from lakehouse.config import Settings
from ops.mage import run_pipeline


def run(settings: Settings) -> list[dict]:
    figures = []
    with private_stack(settings) as stack:
        figures.append(figure("make up to healthy (cold)", sum(stack.start_seconds.values()), "s"))
        for name, seconds in stack.start_seconds.items():
            figures.append(figure(f"{name} start", seconds, "s"))
        smoke_began = time.monotonic()
        smoke = run_pipeline("stack_smoke", settings=stack.settings)
        smoke_seconds = time.monotonic() - smoke_began
        if not smoke.succeeded:
            raise RuntimeError(f"smoke pipeline failed on the private stack:\n{smoke.output[-2000:]}")
        figures.append(figure("mage run, one-block pipeline", smoke_seconds, "s"))
        sizes = stack.resident_bytes()
        for name, size in sizes.items():
            figures.append(figure(f"{name} resident memory", size / 2**20, "MiB"))
        figures.append(figure("stack resident memory", sum(sizes.values()) / 2**20, "MiB", "<= 6144"))
    return figures
