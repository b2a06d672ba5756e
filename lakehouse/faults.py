"""Named points where the fault-injection suite kills the process that reaches them.

A crash test that raises an exception lets `finally` blocks, context managers and atexit hooks
run, so it proves less than a real crash. The suite in tests/faults starts a real process with
`FAULT_AT=<point>` in its environment; when that process reaches `fault_point("<point>")` it
sends itself SIGKILL, exactly as the kernel's OOM killer or a pulled plug would stop it. The
suite then reruns the stage normally and checks that nothing was lost or doubled.

`FAULT_AT` holds one point, or several separated by commas; `point@N` kills on the N-th time
the point is reached in this process (the first by default), so a test can kill in the middle
of a run rather than at its first write. It is a test hook, read at each call and unset in
normal use, so it is not part of the settings in `.env`.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

FAULT_POINTS: frozenset[str] = frozenset(
    {
        "bronze.during_put",
        "bronze.after_put",
        "silver.after_merge",
        "silver.before_bronze_log",
        "gold.after_commit",
        "alerts.after_publish",
    }
)
"""Every point the code marks; a `FAULT_AT` naming another is a typo, refused loudly."""

_reached: Counter[str] = Counter()


def _wanted(spec: str) -> dict[str, int]:
    wanted: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, nth = item.partition("@")
        if name not in FAULT_POINTS:
            known = ", ".join(sorted(FAULT_POINTS))
            raise ValueError(f"FAULT_AT names {name!r}, which is no fault point; known: {known}")
        if nth and not (nth.isdigit() and int(nth) >= 1):
            raise ValueError(f"FAULT_AT {item!r}: the count after @ must be a whole number from 1")
        wanted[name] = int(nth or 1)
    return wanted


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL here when FAULT_AT asks for `name`; otherwise nothing."""
    if name not in FAULT_POINTS:
        raise ValueError(f"{name!r} is not declared in lakehouse.faults.FAULT_POINTS")
    spec = os.environ.get("FAULT_AT")
    if not spec:
        return
    wanted = _wanted(spec)
    if name not in wanted:
        return
    _reached[name] += 1
    if _reached[name] == wanted[name]:
        message = f"FAULT_AT: killing process {os.getpid()} at {name} (pass {_reached[name]})"
        print(message, file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
