"""Alert scoring against ground truth, on cases small enough to check by eye."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from spark_jobs.gold.scoring import AlertWindow, TrueStockout, score, threshold_windows, truth_stockouts

pytestmark = pytest.mark.unit


def _t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour)


def test_caught_needs_an_alert_open_one_lead_time_before():
    stockouts = [TrueStockout("S1", "A", _t(10, 12)), TrueStockout("S1", "B", _t(10, 12))]
    alerts = [
        AlertWindow("S1", "A", _t(6), None),  # open at day 7 noon (10 noon - 3 days): caught
        AlertWindow("S1", "B", _t(8), _t(11)),  # opened too late for a 3-day lead time
    ]
    result = score(alerts, stockouts, lambda sku: 3)
    assert (result.stockouts, result.caught) == (2, 1)
    assert result.caught_share == 0.5


def test_precision_counts_alerts_followed_by_a_stockout():
    stockouts = [TrueStockout("S1", "A", _t(10))]
    alerts = [
        AlertWindow("S1", "A", _t(5), _t(8)),  # closed on the 8th, stockout within 3 days after: true
        AlertWindow("S1", "A", _t(12), None),  # after the stockout: false
        AlertWindow("S2", "A", _t(5), None),  # another store: false
    ]
    result = score(alerts, stockouts, lambda sku: 3)
    assert (result.alerts, result.followed_by_stockout) == (3, 1)
    assert result.precision == pytest.approx(1 / 3)
    assert score([], [], lambda sku: 3).precision == 0.0


def test_fixed_threshold_windows():
    closings = [
        ("S1", "A", date(2026, 11, d), units) for d, units in ((1, 9), (2, 4), (3, 3), (4, 12), (5, 2))
    ]
    assert threshold_windows(closings, 5) == [
        AlertWindow("S1", "A", _t(3), _t(5)),  # closed below 5 on the 2nd, recovered on the 4th
        AlertWindow("S1", "A", _t(6), None),
    ]


def test_truth_file_stockouts(tmp_path: Path):
    path = tmp_path / "truth.json"
    path.write_text(
        json.dumps(
            {"stockouts": [{"store_id": "S001", "sku": "SKU-1", "empty_since": "2026-11-03T10:00:00.000Z"}]}
        )
    )
    assert truth_stockouts(path) == [TrueStockout("S001", "SKU-1", _t(3, 10))]
