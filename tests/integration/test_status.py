"""`make status`: health of each component and the pipeline lag, against the real stack."""

import pytest

from lakehouse.resources import ensure_resources
from ops.stack.cli import status
from ops.stack.components import components
from ops.stack.lag import PROBES, lag_report

pytestmark = pytest.mark.integration


def test_every_lag_probe_answers(whole_stack, capsys):
    ensure_resources(whole_stack)
    report = dict(lag_report(whole_stack))
    assert set(report) == set(PROBES)
    unavailable = {name: value for name, value in report.items() if value.startswith("unavailable")}
    assert not unavailable
    assert "kinesis_to_bronze" in report["last success"]

    assert status(whole_stack) == 0
    printed = capsys.readouterr().out
    assert "pipeline lag:" in printed
    assert printed.count("healthy") == len(components(whole_stack))
