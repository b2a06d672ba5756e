"""Alert scoring against ground truth, on cases small enough to check by eye."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from evaluation.scoring import (
    AcceptedEvents,
    AlertWindow,
    TrueStockout,
    accepted_movements,
    replay,
    score,
    threshold_windows,
    truth_stockouts,
)
from lakehouse.config import read_settings
from producer.events import Event
from spark_jobs.gold import stock_model as model

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


def _event(event_type: str, hour: int, lines: list[dict], bad_class: str | None = None) -> Event:
    document = {"event_type": event_type, "event_time": f"2026-11-02T{hour:02d}:00:00Z", "store_id": "S1"}
    payload = json.dumps(document | {"lines": lines}).encode()
    return Event(0, f"e{hour}", event_type, "S1", 0, payload, bad_class=bad_class)


def test_accepted_movements_keep_what_silver_accepts():
    events = [
        _event("sale", 9, [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]),
        _event("delivery", 7, [{"sku": "A", "quantity": 10}]),
        _event("stock_count", 20, [{"sku": "A", "counted_quantity": 7}]),
        _event("sale", 10, [{"sku": "A", "quantity": 3}], bad_class="unknown_sku"),
        _event("sale", 11, [{"sku": "A", "quantity": 1}], bad_class="late_event"),
        _event("product", 6, []),
    ]
    found = accepted_movements(events)
    assert found[("S1", "A")] == [
        model.Movement(datetime(2026, 11, 2, 9), "sale", 2),
        model.Movement(datetime(2026, 11, 2, 7), "delivery", 10),
        model.Movement(datetime(2026, 11, 2, 20), "count", 7),
        model.Movement(datetime(2026, 11, 2, 11), "sale", 1),
    ]
    assert found[("S1", "B")] == [model.Movement(datetime(2026, 11, 2, 9), "sale", 1)]


def _steady_series(order: bool) -> AcceptedEvents:
    # 20 counted on day 0, 2 sold every day at noon: closing 18 - 2d; 10 arrive on day 8's morning.
    first = date(2026, 11, 2)
    accepted = AcceptedEvents()
    moves = [model.Movement(datetime(2026, 11, 2, 8), "count", 20)]
    moves += [
        model.Movement(datetime.combine(first + timedelta(days=d), time(12)), "sale", 2) for d in range(10)
    ]
    moves.append(model.Movement(datetime(2026, 11, 10, 7), "delivery", 10))
    accepted.movements[("S1", "A")] = moves
    if order:
        line = model.OrderLine("PO-1", "A", datetime(2026, 11, 7, 22), datetime(2026, 11, 10, 7), 10)
        accepted.order_lines[("S1", "A")] = [
            replace(line, received=10, received_at=datetime(2026, 11, 10, 7))
        ]
    return accepted


def test_replay_scores_each_day_with_the_probability_and_what_is_on_order():
    first = date(2026, 11, 2)
    config = read_settings(env_file=None, environ={}).gold

    def probabilities(order: bool) -> list[float]:
        scored = replay(
            _steady_series(order), {"A": 2}, {"A": "c"}, first, first + timedelta(days=3),
            first + timedelta(days=9), config,
        )  # fmt: skip
        assert [s.on_hand for s in scored] == [12, 10, 8, 6, 4, 12, 10]
        return [s.probability for s in scored]

    without = probabilities(order=False)
    # stock runs down towards two days' demand (4): the risk rises; the delivery brings it down
    assert without[:5] == sorted(without[:5]) and without[4] > 0.5 > without[5]
    # the same days knowing the order placed on day 5, due on day 8: day 7 is safe
    assert probabilities(order=True)[4] < 0.25
