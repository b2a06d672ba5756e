"""Benchmarks: `make bench` runs every bench/bench_*.py and prints its figures as one table.

Each module defines `run(settings) -> list[dict]`; a figure is
`{"name": str, "value": float, "unit": str, "target": str | None}` where target reads like
">= 20000" or "<= 1.5". Targets are reported, never asserted: speed is not a test verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lakehouse.config import Settings
from ops.stack.cli import start_native


def figure(name: str, value: float, unit: str, target: str | None = None) -> dict:
    """One row of the table; `target` such as ">= 20000" is compared, never asserted."""
    return {"name": name, "value": float(value), "unit": unit, "target": target}


@contextmanager
def services(settings: Settings, *names: str) -> Iterator[None]:
    """The named components of the stack, healthy for the block; only those it started stop after.

    A benchmark then runs the same beside a `make up` stack and on a machine where nothing runs.
    """
    started = start_native(settings, names, log=lambda message: None)
    try:
        yield
    finally:
        for component in reversed(started):
            component.stop()
