"""The fault hook kills a real process at the named point, on the asked-for pass, and nowhere else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from lakehouse.faults import fault_point

pytestmark = pytest.mark.unit

SCRIPT = """
from lakehouse.faults import fault_point
for step in range(3):
    print("before", step, flush=True)
    fault_point("silver.after_merge")
    print("after", step, flush=True)
"""


def _run(fault_at: str | None) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if key != "FAULT_AT"}
    if fault_at is not None:
        environ["FAULT_AT"] = fault_at
    command = [sys.executable, "-c", SCRIPT]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=60)


def test_without_fault_at_the_process_runs_through():
    result = _run(None)
    assert result.returncode == 0
    assert result.stdout.count("after") == 3


def test_the_process_is_killed_by_sigkill_at_the_nth_pass():
    result = _run("gold.after_commit, silver.after_merge@2")
    assert result.returncode == -signal.SIGKILL
    assert result.stdout.split() == ["before", "0", "after", "0", "before", "1"]
    assert "killing process" in result.stderr


def test_a_point_another_process_waits_for_leaves_this_one_alone():
    assert _run("alerts.after_publish").returncode == 0


def test_a_misspelt_point_is_refused_with_the_known_ones():
    result = _run("silver.aftermerge")
    assert result.returncode == 1
    assert "no fault point" in result.stderr and "silver.after_merge" in result.stderr


def test_code_cannot_mark_an_undeclared_point():
    with pytest.raises(ValueError, match="not declared"):
        fault_point("nowhere.at_all")
