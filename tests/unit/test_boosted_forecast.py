"""The alerts bench's LightGBM challenger: gold's forecast before its first refit, then learned."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from evaluation.boosted_forecast import REFIT_DAYS, boosted_forecasts
from evaluation.scoring import ScoredDay

pytestmark = pytest.mark.unit


def test_it_says_what_gold_says_until_its_first_refit_then_learns_where_gold_is_off():
    first = date(2024, 1, 15)
    skus = [f"SKU-{i:03d}" for i in range(60)]
    replayed, recorded = [], {}
    for k in range(-28, 40):
        day = first + timedelta(days=k)
        for i, sku in enumerate(skus):
            truth = 2 + i % 10  # gold forecasts half of what sells, every day
            recorded[("S1", sku, day)] = (truth, True)
            if day >= first:
                replayed.append(
                    ScoredDay("S1", sku, day, 50, 0.0, 0.0, truth / 2, False, (truth / 2,) * 7, 0.0, 2)
                )
    found = boosted_forecasts(replayed, recorded, lambda *_: {}, {sku: "dairy" for sku in skus}, first)
    assert found[("S1", skus[3], first, 1)] == 2.5
    late = first + timedelta(days=3 * REFIT_DAYS)
    assert found[("S1", skus[3], late, 1)] == pytest.approx(5, rel=0.1)
