"""The calibration map (spark_jobs/gold/calibration.py): hand cases, identity, synthetic Poisson demand."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pytest

from spark_jobs.gold import calibration as c
from spark_jobs.gold import stock_model as m

pytestmark = pytest.mark.unit

TODAY = date(2026, 11, 30)


def test_no_history_is_the_identity():
    fitted = c.fit([], TODAY)
    assert fitted.is_identity and fitted.fitted_on is None and fitted.rows == 0
    assert [fitted.apply(p) for p in (0.0, 0.07, 0.5, 1.0)] == [0.0, 0.07, 0.5, 1.0]


def test_too_few_known_rows_is_the_identity():
    few = [c.CalibrationBin(9, c.CALIBRATION_MIN_ROWS - 1, 0.95 * (c.CALIBRATION_MIN_ROWS - 1), 0)]
    fitted = c.fit(few, TODAY)
    assert fitted.is_identity and fitted.rows == c.CALIBRATION_MIN_ROWS - 1
    assert fitted.apply(0.95) == 0.95


def test_only_rows_whose_lead_time_ended_are_known():
    # day d, lead 2: known once d + 2 is before today; empty on d + 2 counts, on d + 3 does not
    days = {
        ("S1", "A"): [
            c.RecordedDay(TODAY - timedelta(days=5), 3, 0.6, 2),
            c.RecordedDay(TODAY - timedelta(days=4), 2, 0.7, 2),
            c.RecordedDay(TODAY - timedelta(days=3), 0),
            c.RecordedDay(TODAY - timedelta(days=2), 4, 0.2, 2),  # ends today: not known yet
        ],
        ("S1", "B"): [c.RecordedDay(TODAY - timedelta(days=9), 5, 0.1, 3)]
        + [c.RecordedDay(TODAY - timedelta(days=k), 5) for k in (8, 7, 6)],
        ("S2", "A"): [c.RecordedDay(TODAY - timedelta(days=c.CALIBRATION_HISTORY_DAYS + 1), 5, 0.3, 1)],
    }
    assert sorted(c.known_outcomes(days, TODAY)) == [(0.1, False), (0.6, True), (0.7, True)]


def test_bins_shrink_towards_no_change_and_are_made_monotone():
    bins = [
        c.CalibrationBin(0, 300, 300 * 0.05, 15),  # as predicted: 0.05
        c.CalibrationBin(5, 20, 20 * 0.5, 0),  # (0 + 20 x 0.5) / (20 + 20) = 0.25
        c.CalibrationBin(6, 60, 60 * 0.6, 6),  # (6 + 20 x 0.6) / 80 = 0.225: below 0.25, pooled
    ]
    fitted = c.fit(bins, TODAY)
    assert fitted.fitted_on == TODAY and fitted.rows == 380
    pooled = (0.25 * 40 + 0.225 * 80) / 120
    assert [value for knot in fitted.knots for value in knot] == pytest.approx(
        [0.05, 0.05, 0.5, pooled, 0.6, pooled]
    )
    assert fitted.apply(0.025) == pytest.approx(0.025)  # from (0, 0) to the first knot
    assert fitted.apply(0.275) == pytest.approx(0.05 + 0.5 * (pooled - 0.05))
    assert fitted.apply(0.95) == pytest.approx(pooled)  # the last segment is flat here


def test_above_the_last_knot_the_last_segment_goes_on_up_to_1():
    fitted = c.CalibrationMap(TODAY, 1000, ((0.5, 0.4), (0.9, 0.8)))
    assert fitted.apply(0.95) == pytest.approx(0.85)
    fitted = c.CalibrationMap(TODAY, 1000, ((0.5, 0.4), (0.9, 0.96)))
    assert fitted.apply(1.0) == 1.0  # 0.96 + 0.1 x 1.4, at most 1


def test_pool_adjacent_violators():
    assert c.pool_adjacent_violators([0.1, 0.3, 0.2, 0.4], [1, 1, 1, 1]) == pytest.approx(
        [0.1, 0.25, 0.25, 0.4]
    )
    assert c.pool_adjacent_violators([0.5, 0.2, 0.1], [1, 2, 1]) == pytest.approx([0.25] * 3)
    assert c.pool_adjacent_violators([0.1, 0.2], [1, 1]) == [0.1, 0.2]


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's sampler: fine for the small daily means here."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _synthetic_days(rng: random.Random, items: int, day: date) -> dict[tuple[str, str], list[c.RecordedDay]]:
    """Store-SKUs with Poisson demand, each with a model probability on `day` and its next days' stock.

    The model is miscalibrated the way gold's was: it forecasts 30 % too much demand and spreads
    it as a negative binomial with dispersion 1 where the demand is Poisson.
    """
    days = {}
    for item in range(items):
        mean, lead = rng.uniform(0.5, 5.0), rng.randint(2, 5)
        stock = rng.randint(1, max(2, round(2 * mean * lead)))
        raw = m.nb_at_least(1.3 * mean * lead, 1.0, stock)
        recorded, closing = [c.RecordedDay(day, stock, raw, lead)], stock
        for offset in range(1, lead + 1):
            closing -= _poisson(rng, mean)
            recorded.append(c.RecordedDay(day + timedelta(days=offset), closing))
        days[("S1", f"SKU-{item}")] = recorded
    return days


def test_on_synthetic_poisson_demand_the_map_brings_every_bin_within_002_of_what_happened():
    rng = random.Random(15)
    past = _synthetic_days(rng, 150_000, TODAY - timedelta(days=8))
    fitted = c.fit(c.bin_outcomes(c.known_outcomes(past, TODAY)), TODAY)
    assert not fitted.is_identity and fitted.rows == 150_000
    fresh = c.known_outcomes(_synthetic_days(rng, 150_000, TODAY - timedelta(days=8)), TODAY)

    def gaps(scores: list[tuple[float, bool]]) -> list[float]:
        return [
            abs(b.predicted / b.rows - b.happened / b.rows) for b in c.bin_outcomes(scores) if b.rows >= 500
        ]

    raw_gaps = gaps(fresh)
    calibrated_gaps = gaps([(fitted.apply(p), ran_out) for p, ran_out in fresh])
    assert max(raw_gaps) > 0.1  # the model really was off
    assert len(calibrated_gaps) >= 7
    assert max(calibrated_gaps) <= 0.02, calibrated_gaps
