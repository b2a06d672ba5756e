"""Run the benchmarks, print a table of figures against their targets, and save them as JSON.

Every run is kept as `bench/results/<UTC time>-<benchmarks>.json`; `latest.json` is a copy of the
newest, so a partial run (one benchmark) never replaces the only record of a full one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import operator
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from lakehouse.config import load_settings

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
COMPARATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def verdict(value: float, target: str | None) -> str:
    """'met', 'missed' or '' for a target such as '>= 20000'."""
    if not target:
        return ""
    symbol, _, threshold = target.partition(" ")
    compare = COMPARATORS.get(symbol)
    if compare is None:
        return ""
    return "met" if compare(value, float(threshold)) else "missed"


def discover(only: list[str]) -> list[str]:
    names = sorted(path.stem for path in BENCH_DIR.glob("bench_*.py"))
    if only:
        unknown = set(only) - {name.removeprefix("bench_") for name in names}
        if unknown:
            raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {', '.join(names)}")
        names = [name for name in names if name.removeprefix("bench_") in only]
    return names


def run_file_name(when: time.struct_time, only: list[str]) -> str:
    """A name per run that sorts by time and says what ran: `20261201T001500Z-silver-gold.json`."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', when)}-{'-'.join(only) if only else 'all'}.json"


def print_table(rows: list[dict]) -> None:
    headers = ("benchmark", "figure", "value", "unit", "target", "")
    table = [
        (
            row["benchmark"],
            row["name"],
            f"{row['value']:,.3f}".rstrip("0").rstrip("."),
            row["unit"],
            row.get("target") or "",
            row["verdict"],
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *table, strict=False)]
    for line in (headers, tuple("-" * width for width in widths), *table):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("only", nargs="*", help="benchmark names to run (default: all), e.g. stack producer")
    arguments = parser.parse_args(argv)
    settings = load_settings()
    rows: list[dict] = []
    failed = []
    for module_name in discover(arguments.only):
        short = module_name.removeprefix("bench_")
        print(f"running {short} ...", flush=True)
        began = time.monotonic()
        try:
            figures = importlib.import_module(f"bench.{module_name}").run(settings)
        except Exception:
            traceback.print_exc()
            failed.append(short)
            continue
        for figure in figures:
            rows.append(
                {"benchmark": short, **figure, "verdict": verdict(figure["value"], figure.get("target"))}
            )
        print(f"  {short} done in {time.monotonic() - began:.1f} s", flush=True)
    print()
    print_table(rows)
    RESULTS_DIR.mkdir(exist_ok=True)
    now = time.gmtime()
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", now),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "figures": rows,
        "failed": failed,
    }
    output = RESULTS_DIR / run_file_name(now, arguments.only)
    output.write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS_DIR / "latest.json").write_text(output.read_text())
    print(f"\nwritten to {output} (and latest.json)")
    if failed:
        print(f"benchmarks that crashed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
