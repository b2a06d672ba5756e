"""A gradient-boosted forecast (LightGBM) for the alerts bench's forecast table, beside gold's.

Issue 15 asks whether a gradient-boosted model beats gold's level x weekday x promotion uplift
forecast. This is the challenger, measured on the same rows: at the close of each scored day d
and for each day d + h ahead, it predicts the units of d + h from what gold knows at d:

- gold's own forecast of d + h and its level (so the trees learn where gold's formula errs),
- the horizon h, the weekday of d + h and the discount of a promotion announced for d + h by d,
- the store-SKU's recorded sales: the means of the last 7 and 28 days and the share of the
  last 7 days it closed with stock,
- the SKU's lead time and category (as a category code).

Targets are the recorded sales of days that closed with stock (on an empty shelf sales are not
demand). The model is refitted every `REFIT_DAYS` days on the pairs whose target day had closed
before the refit, as gold could; before its first fit (the first `REFIT_DAYS` scored days) it
says what gold's forecast says, so the table compares the two on every row.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta

import lightgbm
import numpy as np

REFIT_DAYS = 7
TRAINING_ROWS = 200_000  # pairs sampled at each refit, to keep the bench's run time
PARAMETERS = {
    "objective": "poisson",  # units per day: counts whose variance grows with the mean
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.9,
    "num_threads": 1,
    "seed": 15,
    "verbose": -1,
}
ROUNDS = 200

# (store_id, sku, day) -> (units sold, closed with stock)
Recorded = Mapping[tuple[str, str, date], tuple[int, bool]]
# (store_id, sku, announced by) -> {day: discount fraction}
Discounts = Callable[[str, str, date], Mapping[date, float]]


def _history(recorded: Recorded, store_id: str, sku: str, day: date) -> tuple[float, float, float]:
    """Mean sales of the last 7 and 28 days up to `day`, and the share of the last 7 in stock."""
    week = [recorded.get((store_id, sku, day - timedelta(days=k))) for k in range(7)]
    month = [recorded.get((store_id, sku, day - timedelta(days=k))) for k in range(28)]
    known_week = [w for w in week if w is not None]
    known_month = [m for m in month if m is not None]
    return (
        sum(w[0] for w in known_week) / max(len(known_week), 1),
        sum(m[0] for m in known_month) / max(len(known_month), 1),
        sum(w[1] for w in known_week) / max(len(known_week), 1),
    )


def boosted_forecasts(
    replayed: Sequence,
    recorded: Recorded,
    discounts: Discounts,
    categories: Mapping[str, str],
    first_scored: date,
) -> dict[tuple[str, str, date, int], float]:
    """(store_id, sku, origin day, h) -> LightGBM's units for each gold forecast in `replayed`
    (evaluation.scoring.ScoredDay rows); gold's own units before the first refit."""
    codes = {name: i for i, name in enumerate(sorted(set(categories.values())))}
    features: dict[date, list[tuple[tuple[str, str, date, int], list[float], float | None]]] = defaultdict(
        list
    )
    for item in replayed:
        week, month, in_stock = _history(recorded, item.store_id, item.sku, item.day)
        ahead = discounts(item.store_id, item.sku, item.day)
        for h, units in enumerate(item.forecast, start=1):
            target = item.day + timedelta(days=h)
            outcome = recorded.get((item.store_id, item.sku, target))
            label = float(outcome[0]) if outcome is not None and outcome[1] else None
            row = [
                units,
                item.level,
                h,
                target.weekday(),
                ahead.get(target, 0.0),
                week,
                month,
                in_stock,
                item.lead_time_days,
                codes.get(categories.get(item.sku, ""), -1),
            ]
            features[item.day].append(((item.store_id, item.sku, item.day, h), row, label))
    origins = sorted(features)
    found: dict[tuple[str, str, date, int], float] = {}
    sampler = random.Random(15)
    booster = None
    for refit_index, refit_day in enumerate(origins[::REFIT_DAYS]):
        if refit_day > first_scored:
            pairs = [
                (row, label)
                for origin in origins
                if origin < refit_day
                for key, row, label in features[origin]
                if label is not None and key[2] + timedelta(days=key[3]) < refit_day
            ]
            if len(pairs) > TRAINING_ROWS:
                pairs = sampler.sample(pairs, TRAINING_ROWS)
            data = lightgbm.Dataset(
                np.array([row for row, _ in pairs]),
                np.array([label for _, label in pairs]),
                categorical_feature=[9],
                free_raw_data=True,
            )
            booster = lightgbm.train(PARAMETERS, data, num_boost_round=ROUNDS)
        for origin in origins[refit_index * REFIT_DAYS : (refit_index + 1) * REFIT_DAYS]:
            rows = features[origin]
            if booster is None:
                found.update((key, row[0]) for key, row, _ in rows)
                continue
            predicted = booster.predict(np.array([row for _, row, _ in rows]))
            found.update((key, float(units)) for (key, _, _), units in zip(rows, predicted, strict=True))
    return found
