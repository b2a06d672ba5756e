"""The stock formulas against cases worked out by hand (the numbers in comments are the working)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import pytest

from lakehouse.config import read_settings
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


def test_level_is_the_ewma_of_demand_over_that_of_the_weekday_index():
    history = _weeks([2, 2, 2, 2, 2, 6, 6], 2)
    as_of = MONDAY + timedelta(days=14)
    stats = m.demand_stats(history, as_of, alpha=0.3, history_days=56)
    indexes = [stats.dow_index[day.weekday()] for day, _, _ in history]
    units = [units for _, units, _ in history]
    assert stats.level == pytest.approx(m.ewma(units, 0.3) / m.ewma(indexes, 0.3))
    assert stats.level == pytest.approx(22 / 7, rel=0.25)  # near the plain mean, not the last days (6)


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


def test_threshold_conditions_the_old_rule():
    values = {
        "on_hand": 20,
        "safety": 3.0,
        "reorder": 10.0,
        "stockout_date": None,
        "as_of_day": MONDAY,
        "lead_time_days": 3,
    }

    def rule(**overrides) -> dict[str, str]:
        return m.threshold_conditions(**{**values, **overrides})

    assert rule() == {}
    assert rule(on_hand=0) == {}
    assert rule(on_hand=8) == {"below_reorder_point": "medium"}
    assert rule(on_hand=3) == {"below_reorder_point": "high"}
    assert rule(stockout_date=MONDAY + timedelta(days=3)) == {"predicted_stockout": "high"}
    assert rule(stockout_date=MONDAY + timedelta(days=1)) == {"predicted_stockout": "critical"}
    assert rule(stockout_date=MONDAY + timedelta(days=4)) == {}  # after an order could arrive


def _conditions(**overrides) -> dict[str, str]:
    values = {
        "on_hand": 20,
        "probability": 0.1,
        "day_probability": 0.0,
        "cover": 8.0,
        "overstock_cover_days": 30,
        "open_at": 0.5,
        "close_below": 0.3,
    }
    return m.alert_conditions(**{**values, **overrides})


def test_alert_conditions():
    assert _conditions() == {}
    assert _conditions(on_hand=0) == {"stockout": "critical"}
    assert _conditions(probability=0.5) == {"stockout_risk": "high"}
    assert _conditions(probability=0.9, day_probability=0.6) == {"stockout_risk": "critical"}
    assert _conditions(on_hand=300, cover=40.0) == {"overstock": "low"}
    # hysteresis: an open alert stays open down to 0.3, unless a delivery came since it opened
    assert _conditions(probability=0.4, risk_open=True) == {"stockout_risk": "high"}
    assert _conditions(probability=0.29, risk_open=True) == {}
    assert _conditions(probability=0.4, risk_open=True, received_since_open=True) == {}
    assert _conditions(probability=0.6, risk_open=True, received_since_open=True) == {"stockout_risk": "high"}


def test_negative_binomial_tail_against_scipy():
    from scipy.stats import nbinom

    for mean, dispersion, units in ((3.0, 0.9, 5), (0.4, 0.05, 1), (40.0, 2.0, 60), (900.0, 0.5, 950)):
        r, p = mean / dispersion, 1 / (1 + dispersion)
        assert m.nb_at_least(mean, dispersion, units) == pytest.approx(nbinom.sf(units - 1, r, p), abs=1e-9)
    assert m.nb_at_least(3.0, 1.0, 0) == 1.0  # an empty shelf is out already
    assert m.nb_at_least(0.0, 1.0, 1) == 0.0


def test_stockout_probability_counts_receipts_on_their_day():
    # P(D1 >= 2) with D1 ~ NB(mean 2, dispersion 1): r = 2, p = 1/2: 1 - (1/4 + 2/8) = 0.5;
    # day 2: 4 arrive, supply 6, two days' demand NB(mean 4): much less likely than day 1.
    first = m.stockout_probability(0.0, [2.0], [2], 1.0)
    assert first == pytest.approx(0.5)
    both = m.stockout_probability(0.0, [2.0, 2.0], [2, 6], 1.0)
    assert both == pytest.approx(0.5)
    assert m.stockout_probability(0.0, [2.0, 2.0], [20, 20], 1.0) < 1e-3
    # what is left of today adds to every day's cumulative demand
    assert m.stockout_probability(2.0, [0.0], [2], 1.0) == pytest.approx(0.5)
    assert m.supply_by_day(5, {MONDAY + timedelta(days=2): 4}, MONDAY, 3) == [5, 9, 9]
    assert m.expected_stockout_date(MONDAY, 0.0, [2.0, 2.0, 2.0], [3, 3, 9], 3) == MONDAY + timedelta(days=2)
    assert m.expected_stockout_date(MONDAY, 0.0, [2.0], [3], 0) == MONDAY


def test_order_lifecycle():
    ordered, expected = datetime(2026, 11, 2, 22), datetime(2026, 11, 5, 7)
    line = m.OrderLine("PO-1", "A", ordered, expected, 10)
    assert m.order_status(line, datetime(2026, 11, 3)) == "open"
    assert m.on_order(line, datetime(2026, 11, 3)) == 10
    assert m.order_status(line, datetime(2026, 11, 6)) == "late"
    assert m.on_order(line, datetime(2026, 11, 6)) == 10
    came = m.OrderLine("PO-1", "A", ordered, expected, 10, received=10, received_at=expected)
    assert (m.order_status(came, datetime(2026, 11, 6)), m.on_order(came, datetime(2026, 11, 6))) == (
        "received",
        0,
    )
    assert m.order_status(came, datetime(2026, 11, 4)) == "open"  # not yet, as of the 4th
    short = m.OrderLine("PO-1", "A", ordered, expected, 10, received=6, received_at=expected)
    assert (m.order_status(short, datetime(2026, 11, 6)), m.on_order(short, datetime(2026, 11, 6))) == (
        "short",
        0,
    )
    assert m.receipt_day(date(2026, 11, 5), date(2026, 11, 3)) == date(2026, 11, 5)
    assert m.receipt_day(date(2026, 11, 5), date(2026, 11, 6)) == date(2026, 11, 7)  # late: tomorrow


def test_promotion_uplift_hand_computed():
    # Two plain weeks at 4 a day (level 4, flat index), then a promotion week at 20 % off selling
    # 6, 6 and 7 on three in-stock days: excess 2 + 2 + 3 = 7 over weight 3 x 4 x 0.2 = 2.4.
    history = [(MONDAY + timedelta(days=i), 4, True) for i in range(14)]
    history += [(MONDAY + timedelta(days=14 + i), units, True, 0.2) for i, units in enumerate((6, 6, 7))]
    stats = m.demand_stats(history, MONDAY + timedelta(days=17), alpha=0.2, history_days=56)
    assert stats.level == pytest.approx(4.0)
    assert (stats.promo_excess, stats.promo_weight) == pytest.approx((7.0, 2.4))
    # own 7 / 2.4 = 2.92; category 4.0 with 7 pseudo-days x 4 x 0.2 = 5.6: (7 + 22.4) / (2.4 + 5.6)
    prior = m.CategoryPrior(elasticity=4.0, dispersion=1.0)
    assert m.elasticity(stats, prior) == pytest.approx(29.4 / 8.0)
    assert m.category_prior([stats, stats]).elasticity == pytest.approx(7 / 2.4)
    saturday = MONDAY + timedelta(days=19)
    beta = m.elasticity(stats, prior)
    assert m.forecast(4.0, (1.0,) * 7, saturday, 1, {saturday: 0.25}, beta) == [
        (saturday, pytest.approx(4.0 * (1 + beta * 0.25)))
    ]


def test_dispersion_is_shrunk_towards_the_category():
    stats = m.DemandStats(
        2.0, 2.0, 2.0, 1.0, 28, (1.0,) * 7, squared_error=168.0, baseline=56.0, plain_days=28
    )
    # own 168 / 56 - 1 = 2; category 1; 28 days against 28 pseudo-days: 1.5
    assert m.dispersion(stats, m.CategoryPrior(0.0, 1.0)) == pytest.approx(1.5)
    assert m.dispersion(
        m.DemandStats(0.0, 0, 0, 0, 0, (1.0,) * 7), m.CategoryPrior(0.0, 0.7)
    ) == pytest.approx(0.7)
    assert m.dispersion(stats, m.CategoryPrior(0.0, -5.0)) == m.MIN_DISPERSION


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


def test_stockout_probability_is_calibrated_on_poisson_demand():
    """Store-SKUs with Poisson demand (means 0.5..8 a day, 56 days of history): within each tenth
    of predicted probability, the mean prediction is within 0.02 of how often the shelf really
    runs out within the lead time (the exact Poisson probability given the true mean)."""
    import numpy as np
    from scipy.stats import poisson

    config = dataclasses.replace(read_settings(env_file=None, environ={}).gold, demand_history_days=56)
    rng = np.random.default_rng(15)
    lead, as_of = 3, MONDAY + timedelta(days=56)
    cases = []
    for _ in range(20000):
        mean = rng.uniform(0.5, 8.0)
        sold = rng.poisson(mean, 56)
        history = [(MONDAY + timedelta(days=i), int(units), True) for i, units in enumerate(sold)]
        on_hand = int(rng.integers(1, int(mean * lead * 2.5) + 2))
        cases.append((history, on_hand, poisson.sf(on_hand - 1, mean * lead)))
    stats = [m.demand_stats(h, as_of, config.ewma_alpha, config.demand_history_days) for h, _, _ in cases]
    prior = m.category_prior(stats, m.level_variance_share(config.ewma_alpha))
    predicted = np.array(
        [
            m.assess(
                h,
                on_hand=on_hand,
                sold_today=0,
                as_of_day=as_of,
                lead_time_days=lead,
                config=config,
                prior=prior,
                stats=s,
            ).probability
            for (h, on_hand, _), s in zip(cases, stats, strict=True)
        ]
    )
    actual = np.array([truth for _, _, truth in cases])
    bins = np.minimum((predicted * 10).astype(int), 9)
    for b in range(10):
        chosen = bins == b
        if chosen.sum() >= 100:
            assert abs(predicted[chosen].mean() - actual[chosen].mean()) <= 0.02, (b, chosen.sum())
