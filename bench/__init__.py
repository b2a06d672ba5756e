"""Benchmarks: `make bench` runs every bench/bench_*.py and prints its figures as one table.

Each module defines `run(settings) -> list[dict]`; a figure is
`{"name": str, "value": float, "unit": str, "target": str | None}` where target reads like
">= 20000" or "<= 1.5". Targets are reported, never asserted: speed is not a test verdict.
"""


def figure(name: str, value: float, unit: str, target: str | None = None) -> dict:
    """One row of the table; `target` such as ">= 20000" is compared, never asserted."""
    return {"name": name, "value": float(value), "unit": unit, "target": target}
