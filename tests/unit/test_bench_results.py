"""Benchmark results: every run keeps its own file, so a partial run does not replace a full one."""

from __future__ import annotations

import time

import pytest

from bench.__main__ import run_file_name, verdict

pytestmark = pytest.mark.unit


def test_each_run_has_a_file_named_by_time_and_benchmarks():
    when = time.strptime("2026-12-01 00:15:00", "%Y-%m-%d %H:%M:%S")
    assert run_file_name(when, []) == "20261201T001500Z-all.json"
    assert run_file_name(when, ["silver", "gold"]) == "20261201T001500Z-silver-gold.json"


def test_names_sort_by_time():
    earlier = run_file_name(time.strptime("2026-11-30 23:59:59", "%Y-%m-%d %H:%M:%S"), ["silver"])
    later = run_file_name(time.strptime("2026-12-01 00:00:00", "%Y-%m-%d %H:%M:%S"), ["alerts"])
    assert sorted([later, earlier]) == [earlier, later]


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [(5.0, ">= 4", "met"), (3.0, ">= 4", "missed"), (3.0, "<= 4", "met"), (3.0, None, ""), (3.0, "~ 4", "")],
)
def test_verdict(value: float, target: str | None, expected: str):
    assert verdict(value, target) == expected
