"""How long the native stack takes to become healthy from cold, and the memory each part holds.

It starts a second, private stack on spare ports in a temporary run folder, so it neither
disturbs nor depends on a stack started with `make up`, and stops it afterwards.
"""

from __future__ import annotations

import os
import tempfile
import time

from bench import figure
from lakehouse.config import Settings, load_settings
from lakehouse.mage import run_pipeline
from lakehouse.stack import process
from lakehouse.stack.cli import start_native
from lakehouse.stack.components import components

PORT_OFFSET = 17  # spare ports beside the configured ones


def private_settings(settings: Settings, run_dir: str) -> Settings:
    localstack_port = settings.localstack_port + PORT_OFFSET
    overrides = {
        "STACK_RUN_DIR": run_dir,
        "LOCALSTACK_PORT": str(localstack_port),
        "AWS_ENDPOINT_URL": f"http://{settings.localstack_host}:{localstack_port}",
        "POSTGRES_PORT": str(settings.postgres_port + PORT_OFFSET),
        "MAGE_PORT": str(settings.mage_port + PORT_OFFSET),
        "MAGE_DATA_DIR": os.path.join(run_dir, "mage_data"),
    }
    return load_settings(environ={**os.environ, **overrides})


def run(settings: Settings) -> list[dict]:
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as run_dir:
        private = private_settings(settings, run_dir)
        os.chmod(run_dir, 0o755)  # the postgres system user must reach its data folder
        began = time.monotonic()
        timings: dict[str, float] = {}
        started = []
        try:
            for component in components(private):
                component_began = time.monotonic()
                started += start_native(private, [component.name], log=lambda message: None)
                timings[component.name] = time.monotonic() - component_began
            total = time.monotonic() - began
            smoke_began = time.monotonic()
            smoke = run_pipeline("stack_smoke", settings=private)
            smoke_seconds = time.monotonic() - smoke_began
            if not smoke.succeeded:
                raise RuntimeError(f"smoke pipeline failed on the private stack:\n{smoke.output[-2000:]}")
            figures.append(figure("make up to healthy (cold)", total, "s"))
            for name, seconds in timings.items():
                figures.append(figure(f"{name} start", seconds, "s"))
            figures.append(figure("mage run, one-block pipeline", smoke_seconds, "s"))
            rss_total = 0.0
            for component in started:
                record = process.read_pid(component.pid_file)
                rss = process.tree_rss_bytes(record.pid) / 2**20 if record else 0.0
                rss_total += rss
                figures.append(figure(f"{component.name} resident memory", rss, "MiB"))
            figures.append(figure("stack resident memory", rss_total, "MiB", "<= 6144"))
        finally:
            for component in reversed(started):
                component.stop()
    return figures
