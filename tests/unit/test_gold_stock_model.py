"""The stock formulas against cases worked out by hand (the numbers in comments are the working)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from spark_jobs.gold import stock_model as m

pytestmark = pytest.mark.unit

MONDAY = date(2026, 11, 2)


def test_z_score_of_common_service_levels():
    assert m.z_score(0.5) == pytest.approx(0.0)
    assert m.z_score(0.95) == pytest.approx(1.6449, abs=1e-4)
    assert m.z_score(0.99) == pytest.approx(2.3263, abs=1e-4)
    with pytest.raises(ValueError, match="between 0 and 1"):
        m.z_score(1.0)


def test_on_hand_is_last_count_plus_deliveries_minus_sales():
    assert m.on_hand_position(last_count=10, delivered_since=5, sold_since=7) == 8


def test_replenishment_figures():
    z, sigma, lead, level = 1.645, 2.0, 4, 3.0
    safety = m.safety_stock(z, sigma, lead)  # 1.645 * 2 * sqrt(4) = 6.58
    assert safety == pytest.approx(6.58)
    assert m.reorder_point(level, lead, safety) == pytest.approx(18.58)  # 3 * 4 + 6.58
    order_up_to = m.order_up_to_level(level, lead, 1, safety)  # 3 * (4 + 1) + 6.58
    assert order_up_to == pytest.approx(21.58)
    assert m.recommended_order_qty(order_up_to, 10) == 12  # ceil(11.58)
    assert m.recommended_order_qty(20.0, 10) == 10  # exact: no extra unit from float noise
    assert m.recommended_order_qty(order_up_to, 30) == 0


def test_days_of_cover():
    assert m.days_of_cover(12, 3.0) == 4.0
    assert m.days_of_cover(0, 3.0) == 0.0
    assert m.days_of_cover(5, 0.0) is None


def test_ewma_starts_at_the_first_value():
    assert m.ewma([10, 20, 30], 0.5) == 22.5  # 10 -> 15 -> 22.5
    assert m.ewma([], 0.5) == 0.0


def _weeks(pattern: list[int], weeks: int, start: date = MONDAY) -> list[tuple[date, int, bool]]:
    return [(start + timedelta(days=i), pattern[i % 7], True) for i in range(7 * weeks)]


def test_day_of_week_index_is_shrunk_towards_one():
    history = [(day, units) for day, units, _ in _weeks([2, 2, 2, 2, 2, 6, 6], 2)]
    index = m.dow_index(history, prior_days=4)
    # mean m = 22/7; Monday: (2 + 2 + 4m) / ((2 + 4) m) = 116/132; Saturday: (6 + 6 + 4m) / (6m) = 172/132
    assert index[0] == pytest.approx(29 / 33)
    assert index[5] == pytest.approx(43 / 33)
    assert m.dow_index([]) == (1.0,) * 7
    assert m.dow_index([(MONDAY, 0)]) == (1.0,) * 7


def test_constant_demand_gives_a_flat_model():
    stats = m.demand_stats(_weeks([4] * 7, 8), MONDAY + timedelta(days=56), alpha=0.2, history_days=56)
    assert stats.level == pytest.approx(4.0)
    assert stats.mean_short == stats.mean_long == 4.0
    assert stats.std == 0.0
    assert stats.days == 56
    assert stats.dow_index == pytest.approx((1.0,) * 7)


def test_out_of_stock_days_are_left_out():
    as_of = MONDAY + timedelta(days=4)
    history = [
        (MONDAY, 1, True),
        (MONDAY + timedelta(days=1), 2, True),
        (MONDAY + timedelta(days=2), 0, False),  # the shelf was empty: censored
        (MONDAY + timedelta(days=3), 3, True),
        (as_of, 9, True),  # today is not complete: not history
    ]
    stats = m.demand_stats(history, as_of, alpha=0.5, history_days=56)
    assert stats.days == 3
    assert stats.mean_long == 2.0
    assert stats.std == pytest.approx(1.0)  # sample std of 1, 2, 3


def test_sample_std_and_short_mean_windows():
    as_of = MONDAY + timedelta(days=30)
    history = [
        (as_of - timedelta(days=d), units, True) for d, units in ((1, 4), (2, 3), (3, 2), (20, 1), (40, 50))
    ]
    stats = m.demand_stats(history, as_of, alpha=0.5, history_days=56)
    assert stats.mean_short == 3.0  # the last 7 days: 4, 3, 2
    assert stats.mean_long == 2.5  # the last 28 days: 4, 3, 2, 1
    assert stats.std == pytest.approx((5 / 3) ** 0.5)  # squares 2.25 + .25 + .25 + 2.25 over 3
    assert stats.days == 5  # the 40-day-old one is inside the 56-day history


def test_level_is_the_ewma_of_weekday_adjusted_demand():
    history = _weeks([2, 2, 2, 2, 2, 6, 6], 2)
    as_of = MONDAY + timedelta(days=14)
    stats = m.demand_stats(history, as_of, alpha=0.3, history_days=56)
    adjusted = [units / stats.dow_index[day.weekday()] for day, units, _ in history]
    assert stats.level == pytest.approx(m.ewma(adjusted, 0.3))
    assert stats.level == pytest.approx(22 / 7, rel=0.15)  # close to the plain mean, not to the last days


def test_forecast_is_level_times_weekday_index():
    index = (1.0, 0.5, 1.0, 1.0, 1.0, 2.0, 1.0)
    assert m.forecast(3.0, index, MONDAY, 3) == [
        (MONDAY, 3.0),
        (MONDAY + timedelta(days=1), 1.5),
        (MONDAY + timedelta(days=2), 3.0),
    ]
    saturday = MONDAY + timedelta(days=5)
    assert m.forecast(3.0, index, saturday, 1) == [(saturday, 6.0)]


def test_predicted_stockout_date():
    days = [(MONDAY + timedelta(days=i), 4.0) for i in range(3)]
    # today 4 - 1 already sold = 3, then 7, then 11 >= 10 on the third day
    assert m.predicted_stockout_date(10, days, sold_today=1) == MONDAY + timedelta(days=2)
    assert m.predicted_stockout_date(7, days, sold_today=1) == MONDAY + timedelta(days=1)
    assert m.predicted_stockout_date(0, days) == MONDAY
    assert m.predicted_stockout_date(100, days) is None
    assert m.predicted_stockout_date(5, []) is None


def test_risk():
    assert m.risk(0, 5.0, 0.0, 30) == "stockout"
    assert m.risk(5, 5.0, 1.0, 30) == "below_reorder_point"
    assert m.risk(50, 5.0, 40.0, 30) == "overstock"
    assert m.risk(10, 5.0, 3.0, 30) == "ok"
    assert m.risk(10, 0.0, None, 30) == "ok"


def _conditions(**overrides) -> dict[str, str]:
    values = {
        "on_hand": 20,
        "safety": 3.0,
        "reorder": 10.0,
        "cover": 8.0,
        "stockout_date": None,
        "as_of_day": MONDAY,
        "lead_time_days": 3,
        "overstock_cover_days": 30,
    }
    return m.alert_conditions(**{**values, **overrides})


def test_alert_conditions():
    assert _conditions() == {}
    assert _conditions(on_hand=0, stockout_date=MONDAY) == {"stockout": "critical"}
    assert _conditions(on_hand=8) == {"below_reorder_point": "medium"}
    assert _conditions(on_hand=3) == {"below_reorder_point": "high"}
    assert _conditions(stockout_date=MONDAY + timedelta(days=3)) == {"predicted_stockout": "high"}
    assert _conditions(stockout_date=MONDAY + timedelta(days=1)) == {"predicted_stockout": "critical"}
    assert _conditions(stockout_date=MONDAY + timedelta(days=4)) == {}  # after an order could arrive
    assert _conditions(on_hand=300, cover=40.0) == {"overstock": "low"}


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, 2 + day, hour)


def test_daily_positions_start_at_the_first_count():
    moves = [
        m.Movement(_at(0, 7), "sale", 2),  # before the first count: position unknown
        m.Movement(_at(0, 8), "count", 10),
        m.Movement(_at(0, 9), "sale", 3),
        m.Movement(_at(0, 10), "delivery", 5),
        m.Movement(_at(1, 9), "sale", 4),  # book 8
        m.Movement(_at(1, 20), "count", 7),  # shrinkage: 1 unit gone
        m.Movement(_at(1, 21), "sale", 1),
    ]
    days = m.daily_positions(moves, MONDAY, MONDAY + timedelta(days=2))
    assert days == [
        # opening = closing - received + sold when nothing came before: 12 - 5 + 5
        m.DayPosition(MONDAY, 12, 5, 5, 0, 12),
        # 12 - 4 = 8, counted 7 (-1), then - 1 = 6
        m.DayPosition(MONDAY + timedelta(days=1), 12, 5, 0, -1, 6),
        m.DayPosition(MONDAY + timedelta(days=2), 6, 0, 0, 0, 6),
    ]


def test_daily_positions_from_an_anchor():
    moves = [
        m.Movement(_at(0, 9), "sale", 3),
        m.Movement(_at(0, 20), "count", 10),
        m.Movement(_at(0, 20), "sale", 1),
    ]
    # the sale at the count's instant happened before the count: 20 - 3 - 1 = 16, counted 10
    assert m.daily_positions(moves, MONDAY, MONDAY, anchor=20) == [m.DayPosition(MONDAY, 20, 4, 0, -6, 10)]
    assert m.daily_positions([], MONDAY, MONDAY) == []
