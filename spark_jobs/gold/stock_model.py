"""The stock model: where each store-SKU stands, what it will sell, and when to reorder.

This module is the reference: every formula on plain Python values, small and readable, checked
in unit tests against cases worked out by hand. It is what a reader checks the numbers against,
what the alert scoring replays a simulation through, and what the load evaluates alert
conditions with. `stock_frames` runs the same formulas over all store-SKUs at once in Spark;
integration tests hold it to this module row for row. Keeping the two apart keeps this one free
of Spark, so it imports and runs anywhere.

Forecast method, and why: demand per store-SKU-day is forecast as a level times a day-of-week
index (`level x index[weekday]`). The index is the SKU's mean demand on that weekday over its
mean on all days, shrunk towards 1 with `DOW_PRIOR_DAYS` pseudo-days, so a slow mover with a
few lucky Saturdays does not get a wild Saturday. The level is an exponentially weighted mean
(EWMA) of demand divided by its weekday index, so it follows recent change without mistaking
Saturday's peak for a trend. It was chosen over ARIMA or gradient boosting because the horizon
is two weeks, the signal that matters in retail is the weekly cycle, thousands of short and
often sparse series make per-series model fitting fragile, and a store manager can check it
by hand ("about 4 a day, Saturdays 1.5 times that"). It costs one group-by in Spark.

Days a shelf ended empty (closing stock <= 0) are censored: their sales show how much there
was, not how much was wanted, so they are left out of every demand statistic.

Replenishment follows the textbook continuous-review formulas, with L the lead time in days,
R the review period, z the standard normal quantile of the service level and sigma the
standard deviation of daily demand:

    safety stock       SS = z * sigma * sqrt(L)
    reorder point      ROP = level * L + SS
    order-up-to level  S = level * (L + R) + SS
    recommended order  ceil(S - on_hand), at least 0 (open orders are not in silver)
    days of cover      on_hand / level
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import NormalDist

from lakehouse.config import GoldSettings

# How many pseudo-days at the overall mean each weekday's index starts from (see module doc).
DOW_PRIOR_DAYS = 4.0
# The short and long windows of the plain moving averages.
SHORT_WINDOW_DAYS = 7
LONG_WINDOW_DAYS = 28

KINDS = ("stockout", "below_reorder_point", "predicted_stockout", "overstock")
SEVERITIES = ("low", "medium", "high", "critical")
RISKS = ("stockout", "below_reorder_point", "ok", "overstock")


def z_score(service_level: float) -> float:
    """The standard normal quantile of a cycle service level: 0.95 -> 1.645."""
    if not 0 < service_level < 1:
        raise ValueError(f"service level {service_level} must be strictly between 0 and 1")
    return NormalDist().inv_cdf(service_level)


def on_hand_position(last_count: int, delivered_since: int, sold_since: int) -> int:
    """Units on the shelf now: the last count, plus deliveries since, minus sales since."""
    return last_count + delivered_since - sold_since


@dataclass(frozen=True)
class Movement:
    """One stock event of a store-SKU: a sale or delivery (quantity) or a count (counted units)."""

    at: datetime
    kind: str  # sale, delivery or count
    quantity: int


# At the same instant, sales and deliveries come before a count: the count is what was left.
_KIND_ORDER = {"sale": 0, "delivery": 0, "count": 1}


@dataclass(frozen=True)
class DayPosition:
    day: date
    opening: int
    sold: int
    received: int
    count_adjustment: int
    closing: int


def daily_positions(
    movements: Iterable[Movement], first_day: date, last_day: date, anchor: int | None = None
) -> list[DayPosition]:
    """The end-of-day stock of one store-SKU for each day from `first_day` to `last_day`.

    `anchor` is the closing stock of the day before `first_day` when it is known (gold's last
    snapshot); without it the position is unknown until the first count, and days before that
    are left out. A count replaces the book stock; the change it makes is the count adjustment.
    """
    ordered = sorted(
        (m for m in movements if first_day <= m.at.date() <= last_day),
        key=lambda m: (m.at, _KIND_ORDER[m.kind]),
    )
    by_day: dict[date, list[Movement]] = {}
    for movement in ordered:
        by_day.setdefault(movement.at.date(), []).append(movement)
    positions: list[DayPosition] = []
    stock = anchor
    day = first_day
    while day <= last_day:
        opening = stock
        sold = received = 0
        for movement in by_day.get(day, []):
            if movement.kind == "count":
                stock = movement.quantity
            elif stock is not None:
                stock += movement.quantity if movement.kind == "delivery" else -movement.quantity
            sold += movement.quantity if movement.kind == "sale" else 0
            received += movement.quantity if movement.kind == "delivery" else 0
        if stock is not None:
            if opening is None:
                opening = stock - received + sold
            adjustment = stock - opening - received + sold
            positions.append(DayPosition(day, opening, sold, received, adjustment, stock))
        day += timedelta(days=1)
    return positions


@dataclass(frozen=True)
class DemandStats:
    level: float  # EWMA of weekday-adjusted demand: average-weekday units per day
    mean_short: float
    mean_long: float
    std: float
    days: int  # in-stock days behind the statistics
    dow_index: tuple[float, ...]  # Monday first


def dow_index(history: Sequence[tuple[date, float]], prior_days: float = DOW_PRIOR_DAYS) -> tuple[float, ...]:
    """Each weekday's demand relative to the mean, shrunk towards 1 by `prior_days` pseudo-days."""
    if not history:
        return (1.0,) * 7
    mean = sum(units for _, units in history) / len(history)
    if mean == 0:
        return (1.0,) * 7
    sums, counts = [0.0] * 7, [0] * 7
    for day, units in history:
        sums[day.weekday()] += units
        counts[day.weekday()] += 1
    return tuple((sums[w] + prior_days * mean) / ((counts[w] + prior_days) * mean) for w in range(7))


def ewma(values: Sequence[float], alpha: float) -> float:
    """Exponentially weighted mean, oldest first, started at the first value; 0 when empty."""
    if not values:
        return 0.0
    level = values[0]
    for value in values[1:]:
        level = alpha * value + (1 - alpha) * level
    return level


def demand_stats(
    history: Sequence[tuple[date, int, bool]], as_of_day: date, alpha: float, history_days: int
) -> DemandStats:
    """Statistics of complete days before `as_of_day`: (day, units sold, in stock) per day.

    Only in-stock days within `history_days` before `as_of_day` count; see the module doc.
    """
    first = as_of_day - timedelta(days=history_days)
    kept = sorted(
        (day, float(units)) for day, units, in_stock in history if in_stock and first <= day < as_of_day
    )
    index = dow_index(kept)
    level = ewma([units / index[day.weekday()] for day, units in kept], alpha)

    def recent(days: int) -> list[float]:
        return [units for day, units in kept if day >= as_of_day - timedelta(days=days)]

    short, long = recent(SHORT_WINDOW_DAYS), recent(LONG_WINDOW_DAYS)
    mean_long = sum(long) / len(long) if long else 0.0
    std = math.sqrt(sum((u - mean_long) ** 2 for u in long) / (len(long) - 1)) if len(long) > 1 else 0.0
    return DemandStats(
        level=level,
        mean_short=sum(short) / len(short) if short else 0.0,
        mean_long=mean_long,
        std=std,
        days=len(kept),
        dow_index=index,
    )


def forecast(level: float, index: Sequence[float], first_day: date, days: int) -> list[tuple[date, float]]:
    """Daily demand forecast: level times the weekday index, for `days` days from `first_day`."""
    return [
        (first_day + timedelta(days=offset), level * index[(first_day + timedelta(days=offset)).weekday()])
        for offset in range(days)
    ]


def safety_stock(z: float, sigma: float, lead_time_days: float) -> float:
    return z * sigma * math.sqrt(lead_time_days)


def reorder_point(mean_daily: float, lead_time_days: float, safety: float) -> float:
    return mean_daily * lead_time_days + safety


def order_up_to_level(mean_daily: float, lead_time_days: float, review_days: float, safety: float) -> float:
    return mean_daily * (lead_time_days + review_days) + safety


def recommended_order_qty(order_up_to: float, on_hand: int) -> int:
    """Units to order to bring the shelf up to S; never negative."""
    return max(0, math.ceil(round(order_up_to - on_hand, 6)))


def days_of_cover(on_hand: int, mean_daily: float) -> float | None:
    """How many days the stock lasts at the mean rate; None when nothing sells."""
    if on_hand <= 0:
        return 0.0
    return on_hand / mean_daily if mean_daily > 0 else None


def predicted_stockout_date(
    on_hand: int, daily_forecast: Sequence[tuple[date, float]], sold_today: int = 0
) -> date | None:
    """The first forecast day by which cumulative demand reaches the stock on hand.

    The first forecast day is today: what is left of its forecast after `sold_today` counts.
    None when the stock outlasts the forecast horizon; today when the shelf is already empty.
    """
    if not daily_forecast:
        return None
    if on_hand <= 0:
        return daily_forecast[0][0]
    cumulative = 0.0
    for offset, (day, units) in enumerate(daily_forecast):
        cumulative += max(units - sold_today, 0.0) if offset == 0 else units
        if cumulative >= on_hand:
            return day
    return None


def risk(on_hand: int, reorder: float, cover: float | None, overstock_cover_days: float) -> str:
    """The stock's state in one word (fact_inventory_snapshot.risk, stock_position.risk)."""
    if on_hand <= 0:
        return "stockout"
    if on_hand <= reorder:
        return "below_reorder_point"
    if cover is not None and cover > overstock_cover_days:
        return "overstock"
    return "ok"


def alert_conditions(
    *,
    on_hand: int,
    safety: float,
    reorder: float,
    cover: float | None,
    stockout_date: date | None,
    as_of_day: date,
    lead_time_days: int,
    overstock_cover_days: float,
) -> dict[str, str]:
    """kind -> severity of every alert condition that holds for one store-SKU now.

    - stockout (critical): nothing on the shelf;
    - below_reorder_point: at or under ROP; high at or under the safety stock, else medium;
    - predicted_stockout: the forecast empties the shelf within the lead time, before an order
      placed now can arrive; critical when that is today or tomorrow, else high;
    - overstock (low): more days of cover than OVERSTOCK_COVER_DAYS.
    """
    if on_hand <= 0:
        return {"stockout": "critical"}
    conditions: dict[str, str] = {}
    if on_hand <= reorder:
        conditions["below_reorder_point"] = "high" if on_hand <= safety else "medium"
    if stockout_date is not None and (stockout_date - as_of_day).days <= lead_time_days:
        conditions["predicted_stockout"] = "critical" if (stockout_date - as_of_day).days <= 1 else "high"
    if cover is not None and cover > overstock_cover_days:
        conditions["overstock"] = "low"
    return conditions


@dataclass(frozen=True)
class Assessment:
    """Everything gold says about one store-SKU at the end of a day (the reference composition)."""

    stats: DemandStats
    on_hand: int
    safety_stock: float
    reorder_point: float
    predicted_stockout_date: date | None
    conditions: dict[str, str]


def assess(
    history: Sequence[tuple[date, int, bool]],
    *,
    on_hand: int,
    sold_today: int,
    as_of_day: date,
    lead_time_days: int,
    config: GoldSettings,
) -> Assessment:
    """The formulas above chained as `job.model_frames` chains their Spark versions.

    history is (day, units sold, in stock) per day, as for `demand_stats`; on_hand and sold_today
    are the position at the end of `as_of_day`. Tests check gold against it, and the alert
    scoring benchmark replays a simulation day by day through it.
    """
    stats = demand_stats(history, as_of_day, config.ewma_alpha, config.demand_history_days)
    safety = safety_stock(z_score(config.service_level), stats.std, lead_time_days)
    reorder = reorder_point(stats.level, lead_time_days, safety)
    daily_forecast = forecast(stats.level, stats.dow_index, as_of_day, config.forecast_days)
    stockout = predicted_stockout_date(on_hand, daily_forecast, sold_today)
    conditions = alert_conditions(
        on_hand=on_hand,
        safety=safety,
        reorder=reorder,
        cover=days_of_cover(on_hand, stats.level),
        stockout_date=stockout,
        as_of_day=as_of_day,
        lead_time_days=lead_time_days,
        overstock_cover_days=config.overstock_cover_days,
    )
    return Assessment(stats, on_hand, safety, reorder, stockout, conditions)
