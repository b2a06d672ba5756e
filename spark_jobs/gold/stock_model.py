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
(EWMA) of demand over the EWMA of its days' weekday indexes, so it follows recent change without
mistaking Saturday's peak for a trend. It was chosen over ARIMA or gradient boosting because the horizon
is two weeks, the signal that matters in retail is the weekly cycle, thousands of short and
often sparse series make per-series model fitting fragile, and a store manager can check it
by hand ("about 4 a day, Saturdays 1.5 times that"). It costs one group-by in Spark.

Days a shelf ended empty (closing stock <= 0) are censored: their sales show how much there
was, not how much was wanted, so they are left out of every demand statistic.

Promotions: the level and weekday index are estimated from in-stock days without a promotion;
a promotion day is forecast as `level x index[weekday] x (1 + elasticity x discount)`. The
elasticity of a store-SKU is the excess its promotion days sold over their baseline, per unit of
baseline times discount, `sum(y - b) / sum(b x d)`, shrunk towards its category's (pooled over
every store and SKU of the category) with `UPLIFT_PRIOR_DAYS` pseudo-days at `TYPICAL_DISCOUNT`:
a SKU seldom on promotion behaves like its category, one often on promotion follows its own.

Stockout probability: demand of a day is negative binomial with the forecast as its mean and
variance `mean x (1 + dispersion)` (the "NB1" form: the compound Poisson of shoppers buying one
or more units has exactly this shape, and the sum of such days with one dispersion is again
such a negative binomial, with the summed mean). The dispersion of a store-SKU is
`sum((y - b)^2) / sum(b) - 1` over its in-stock days without promotion, shrunk towards its
category's with `DISPERSION_PRIOR_DAYS` pseudo-days and floored at `MIN_DISPERSION`. With
`supply(t)` = on hand + open order lines expected by day t (a late line is expected tomorrow):

    P(stockout within h days) = max over t = 1..h of P(demand(today's rest + days 1..t) >= supply(t))

over the lead time (h = L: an order placed at the next review arrives after it) and over the
next day (h = 1). `>=` because a shelf sold down to zero is a stockout. The expected stockout
date is the first forecast day whose cumulative mean demand reaches supply(t).

Replenishment follows the textbook continuous-review formulas, with L the lead time in days,
R the review period, z the standard normal quantile of the service level and sigma the
standard deviation of daily demand:

    safety stock       SS = z * sigma * sqrt(L)
    reorder point      ROP = level * L + SS
    order-up-to level  S = level * (L + R) + SS
    inventory position IP = on hand + on order (open purchase order lines)
    recommended order  ceil(S - IP), at least 0
    days of cover      on_hand / level
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import NormalDist

from lakehouse.config import GoldSettings

# The version gold stamps on every forecast row and stock position it writes (model_version) and
# tags the MLflow runs that fit and score it with: raise it with every change of a formula here.
MODEL_VERSION = "stock-model-5"
# How many pseudo-days at the overall mean each weekday's index starts from (see module doc).
DOW_PRIOR_DAYS = 4.0
# Pseudo-days of the category's promotion elasticity and dispersion behind a store-SKU's own.
UPLIFT_PRIOR_DAYS = 7.0
TYPICAL_DISCOUNT = 0.2
DISPERSION_PRIOR_DAYS = 28.0
# A category with no history: no promotion response, and the dispersion of one-or-more-unit baskets.
DEFAULT_ELASTICITY = 0.0
DEFAULT_DISPERSION = 1.0
MIN_DISPERSION = 0.05
# The short and long windows of the plain moving averages.
SHORT_WINDOW_DAYS = 7
LONG_WINDOW_DAYS = 28

KINDS = ("stockout", "below_reorder_point", "predicted_stockout", "overstock", "stockout_risk")
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
    level: float  # EWMA of weekday-adjusted demand on days without promotion: units per day
    mean_short: float
    mean_long: float
    std: float
    days: int  # in-stock days behind the statistics
    dow_index: tuple[float, ...]  # Monday first
    # Sums the category pooling and the shrinkage work from (see the module doc):
    promo_excess: float = 0.0  # sum(y - b) over in-stock promotion days
    promo_weight: float = 0.0  # sum(b x discount) over the same days
    squared_error: float = 0.0  # sum((y - b)^2) over in-stock days without promotion
    baseline: float = 0.0  # sum(b) over the same days
    plain_days: int = 0  # how many of them


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


def ratio_ewma(history: Sequence[tuple[date, float]], index: Sequence[float], alpha: float) -> float:
    """The level: EWMA of demand over the EWMA of its days' weekday indexes (oldest first).

    A ratio of means rather than the mean of ratios: dividing each day by an index estimated
    from that same day biases the level low (by about the index's relative variance), which
    showed as under-forecast risk on calibrated synthetic demand.
    """
    if not history:
        return 0.0
    weighted = ewma([index[day.weekday()] for day, _ in history], alpha)
    return ewma([units for _, units in history], alpha) / weighted


def _discount(row: tuple) -> float:
    """A history row's promotion discount as a fraction; rows without one are plain days."""
    return float(row[3]) if len(row) > 3 and row[3] else 0.0


def demand_stats(history: Sequence[tuple], as_of_day: date, alpha: float, history_days: int) -> DemandStats:
    """Statistics of complete days before `as_of_day`: (day, units sold, in stock[, discount]) per day.

    Only in-stock days within `history_days` before `as_of_day` count; level and weekday index
    come from those without a promotion (discount 0 or absent); see the module doc.
    """
    first = as_of_day - timedelta(days=history_days)
    kept = sorted(
        (row[0], float(row[1]), _discount(row)) for row in history if row[2] and first <= row[0] < as_of_day
    )
    plain = [(day, units) for day, units, discount in kept if discount == 0]
    index = dow_index(plain)
    level = ratio_ewma(plain, index, alpha)

    def recent(days: int) -> list[float]:
        return [units for day, units, _ in kept if day >= as_of_day - timedelta(days=days)]

    short, long = recent(SHORT_WINDOW_DAYS), recent(LONG_WINDOW_DAYS)
    mean_long = sum(long) / len(long) if long else 0.0
    std = math.sqrt(sum((u - mean_long) ** 2 for u in long) / (len(long) - 1)) if len(long) > 1 else 0.0
    excess = weight = squared = baseline = 0.0
    for day, units, discount in kept:
        expected = level * index[day.weekday()]
        if discount > 0:
            excess += units - expected
            weight += expected * discount
        else:
            squared += (units - expected) ** 2
            baseline += expected
    return DemandStats(
        level=level,
        mean_short=sum(short) / len(short) if short else 0.0,
        mean_long=mean_long,
        std=std,
        days=len(kept),
        dow_index=index,
        promo_excess=excess,
        promo_weight=weight,
        squared_error=squared,
        baseline=baseline,
        plain_days=len(plain),
    )


@dataclass(frozen=True)
class CategoryPrior:
    """What a category's store-SKUs show together: promotion elasticity and demand dispersion."""

    elasticity: float = DEFAULT_ELASTICITY
    dispersion: float = DEFAULT_DISPERSION


def category_prior(members: Iterable[DemandStats], level_share: float = 0.0) -> CategoryPrior:
    """The pooled elasticity and dispersion of a category's store-SKUs (every store).

    A day's squared error against the level holds the level's own error too, `level_share`
    of the day's variance: the dispersion is what is left of it.
    """
    excess = weight = squared = baseline = 0.0
    for stats in members:
        excess += stats.promo_excess
        weight += stats.promo_weight
        squared += stats.squared_error
        baseline += stats.baseline
    return CategoryPrior(
        elasticity=excess / weight if weight > 0 else DEFAULT_ELASTICITY,
        dispersion=(
            max(squared / baseline / (1 + level_share) - 1, MIN_DISPERSION)
            if baseline > 0
            else DEFAULT_DISPERSION
        ),
    )


def elasticity(stats: DemandStats, prior: CategoryPrior) -> float:
    """The store-SKU's promotion elasticity, shrunk towards its category's (module doc); >= 0."""
    pseudo = UPLIFT_PRIOR_DAYS * stats.level * TYPICAL_DISCOUNT
    if stats.promo_weight + pseudo <= 0:
        return max(prior.elasticity, 0.0)
    value = (stats.promo_excess + pseudo * prior.elasticity) / (stats.promo_weight + pseudo)
    return max(value, 0.0)


def dispersion(stats: DemandStats, prior: CategoryPrior, level_share: float = 0.0) -> float:
    """The store-SKU's dispersion, shrunk towards its category's by pseudo-days (module doc)."""
    own = (
        stats.squared_error / stats.baseline / (1 + level_share) - 1
        if stats.baseline > 0
        else prior.dispersion
    )
    days = stats.plain_days if stats.baseline > 0 else 0
    blended = (days * own + DISPERSION_PRIOR_DAYS * prior.dispersion) / (days + DISPERSION_PRIOR_DAYS)
    return max(blended, MIN_DISPERSION)


def forecast(
    level: float,
    index: Sequence[float],
    first_day: date,
    days: int,
    discounts: Mapping[date, float] | None = None,
    elasticity: float = 0.0,
) -> list[tuple[date, float]]:
    """Daily demand forecast for `days` days from `first_day`: level x weekday index, times
    (1 + elasticity x discount) on the days of an announced promotion (`discounts`: day -> fraction)."""
    discounts = discounts or {}
    found = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        found.append((day, level * index[day.weekday()] * (1 + elasticity * discounts.get(day, 0.0))))
    return found


def nb_at_least(mean: float, dispersion: float, units: int) -> float:
    """P(D >= units) for D negative binomial with this mean and variance mean x (1 + dispersion).

    Summed in log space from P(0) = (1 + dispersion)^(-mean / dispersion), each next term
    times (k + r) / (k + 1) x dispersion / (1 + dispersion) with r = mean / dispersion, so
    large means do not underflow; `stock_frames.nb_at_least_column` runs the same loop.
    """
    if units <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    r = mean / dispersion
    log_q = math.log(dispersion / (1 + dispersion))
    log_p = -r * math.log1p(dispersion)
    below = 0.0
    for k in range(units):
        below += math.exp(log_p)
        log_p += math.log((k + r) / (k + 1)) + log_q
    return min(max(1.0 - below, 0.0), 1.0)


def level_variance_share(alpha: float) -> float:
    """Variance of an EWMA level over that of one day (alpha / (2 - alpha)), of independent days."""
    return alpha / (2 - alpha)


def index_variance_share(plain_days: int) -> float:
    """Variance of a weekday index over that of one day: one over its days plus its prior days."""
    return 1 / (plain_days / 7 + DOW_PRIOR_DAYS)


def horizon_dispersion(dispersion: float, days: int, level_share: float, index_share: float = 0.0) -> float:
    """Dispersion of the demand of `days` days: the days' own, plus the errors of the level they all
    share (growing with the horizon) and of the weekday indexes:
    (1 + dispersion) x (1 + days x level_share + index_share) - 1."""
    return (1 + dispersion) * (1 + days * level_share + index_share) - 1


def stockout_probability(
    today_rest: float,
    daily_means: Sequence[float],
    supply: Sequence[int],
    dispersion: float,
    level_share: float = 0.0,
    index_share: float = 0.0,
) -> float:
    """max over t of P(demand of today's rest + days 1..t >= supply[t-1]) (module doc).

    daily_means[t-1] is the forecast of day t after today, supply[t-1] the units on hand plus
    those expected by day t; the horizon is their length. The demand of t days has dispersion
    `horizon_dispersion(dispersion, t, level_share, index_share)`.
    """
    cumulative, best = today_rest, 0.0
    for days, (mean, units) in enumerate(zip(daily_means, supply, strict=True), start=1):
        cumulative += mean
        spread = horizon_dispersion(dispersion, days, level_share, index_share)
        best = max(best, nb_at_least(cumulative, spread, units))
    return best


def expected_stockout_date(
    as_of_day: date, today_rest: float, daily_means: Sequence[float], supply: Sequence[int], on_hand: int
) -> date | None:
    """The first day whose cumulative mean demand reaches the supply by then; today when empty."""
    if on_hand <= 0:
        return as_of_day
    cumulative = today_rest
    for offset, (mean, units) in enumerate(zip(daily_means, supply, strict=True), start=1):
        cumulative += mean
        if cumulative >= units:
            return as_of_day + timedelta(days=offset)
    return None


@dataclass(frozen=True)
class OrderLine:
    """One line of a purchase order, and the delivery that closed it if one came."""

    order_id: str
    sku: str
    ordered_at: datetime
    expected_at: datetime
    quantity: int
    received: int | None = None  # None while no delivery carried the order id
    received_at: datetime | None = None


def order_status(line: OrderLine, as_of: datetime) -> str:
    """open, late (expected before as_of, nothing came), received, or short (came with less).

    A delivery carrying the order id closes the line whatever it brought: what did not come is
    not coming, and would be reordered at the next review.
    """
    if line.received is None or (line.received_at is not None and line.received_at > as_of):
        return "late" if line.expected_at < as_of else "open"
    return "received" if line.received >= line.quantity else "short"


def on_order(line: OrderLine, as_of: datetime) -> int:
    """Units of the line still to come: all of it while open or late, none once a delivery came."""
    return line.quantity if order_status(line, as_of) in ("open", "late") else 0


def receipt_day(expected: date, as_of_day: date) -> date:
    """The day an open line is counted on: its expected day, or tomorrow when it is late."""
    return max(expected, as_of_day + timedelta(days=1))


def supply_by_day(on_hand: int, receipts: Mapping[date, int], as_of_day: date, days: int) -> list[int]:
    """On hand plus the units expected by each of the `days` days after `as_of_day`."""
    found, units = [], on_hand
    for offset in range(1, days + 1):
        units += receipts.get(as_of_day + timedelta(days=offset), 0)
        found.append(units)
    return found


def alert_holds(
    probability: float, *, is_open: bool, received_since_open: bool, open_at: float, close_below: float
) -> bool:
    """Whether a stockout_risk alert is (or stays) open: it opens at `open_at` and then stays open
    until the probability falls below `close_below`, or a delivery came and it is under `open_at`."""
    if probability >= open_at:
        return True
    return is_open and not received_since_open and probability >= close_below


def safety_stock(z: float, sigma: float, lead_time_days: float) -> float:
    return z * sigma * math.sqrt(lead_time_days)


def reorder_point(mean_daily: float, lead_time_days: float, safety: float) -> float:
    return mean_daily * lead_time_days + safety


def order_up_to_level(mean_daily: float, lead_time_days: float, review_days: float, safety: float) -> float:
    return mean_daily * (lead_time_days + review_days) + safety


def recommended_order_qty(order_up_to: float, inventory_position: int) -> int:
    """Units to order to bring the inventory position (on hand + on order) up to S; never negative."""
    return max(0, math.ceil(round(order_up_to - inventory_position, 6)))


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


def threshold_conditions(
    *,
    on_hand: int,
    safety: float,
    reorder: float,
    stockout_date: date | None,
    as_of_day: date,
    lead_time_days: int,
) -> dict[str, str]:
    """The alert rule gold had before the stockout probability (the bench's "fixed rule"):

    - below_reorder_point: at or under ROP; high at or under the safety stock, else medium;
    - predicted_stockout: the mean forecast empties the shelf (on hand alone) within the lead
      time; critical when that is today or tomorrow, else high.
    """
    conditions: dict[str, str] = {}
    if on_hand <= 0:
        return conditions
    if on_hand <= reorder:
        conditions["below_reorder_point"] = "high" if on_hand <= safety else "medium"
    if stockout_date is not None and (stockout_date - as_of_day).days <= lead_time_days:
        conditions["predicted_stockout"] = "critical" if (stockout_date - as_of_day).days <= 1 else "high"
    return conditions


def alert_conditions(
    *,
    on_hand: int,
    probability: float,
    day_probability: float,
    cover: float | None,
    overstock_cover_days: float,
    open_at: float,
    close_below: float,
    risk_open: bool = False,
    received_since_open: bool = False,
) -> dict[str, str]:
    """kind -> severity of every alert condition that holds for one store-SKU now.

    - stockout (critical): nothing on the shelf;
    - stockout_risk: the probability of a stockout within the lead time reaches ALERT_MIN_PROBABILITY
      (`alert_holds` says when an open one stays open); critical when the probability of
      running out by tomorrow reaches it too, else high;
    - overstock (low): more days of cover than OVERSTOCK_COVER_DAYS.
    """
    if on_hand <= 0:
        return {"stockout": "critical"}
    conditions: dict[str, str] = {}
    holds = alert_holds(
        probability,
        is_open=risk_open,
        received_since_open=received_since_open,
        open_at=open_at,
        close_below=close_below,
    )
    if holds:
        conditions["stockout_risk"] = "critical" if day_probability >= open_at else "high"
    if cover is not None and cover > overstock_cover_days:
        conditions["overstock"] = "low"
    return conditions


@dataclass(frozen=True)
class Assessment:
    """Everything gold says about one store-SKU at the end of a day (the reference composition)."""

    stats: DemandStats
    on_hand: int
    on_order: int
    elasticity: float
    dispersion: float
    daily_forecast: list[tuple[date, float]]
    safety_stock: float
    reorder_point: float
    order_up_to_level: float
    recommended_order_qty: int
    predicted_stockout_date: date | None  # on hand alone, the mean forecast
    expected_stockout_date: date | None  # on hand and open orders
    probability: float  # of a stockout within the lead time
    day_probability: float  # of a stockout by the end of tomorrow
    conditions: dict[str, str]


def assess(
    history: Sequence[tuple],
    *,
    on_hand: int,
    sold_today: int,
    as_of_day: date,
    lead_time_days: int,
    config: GoldSettings,
    prior: CategoryPrior | None = None,
    discounts: Mapping[date, float] | None = None,
    receipts: Mapping[date, int] | None = None,
    today_share: float = 0.0,
    risk_open: bool = False,
    received_since_open: bool = False,
    stats: DemandStats | None = None,
) -> Assessment:
    """The formulas above chained as `job.model_frames` chains their Spark versions.

    history is (day, units sold, in stock, discount) per day, as for `demand_stats` (pass
    `stats` when already computed); on_hand and sold_today are the position at `as_of_day`'s
    data time, `today_share` the share of that day still to come (0 at its end); discounts are
    the announced promotion days; receipts the open order units by receipt day (`receipt_day`);
    prior the category's (`category_prior`). Tests check gold against it, and the alert scoring
    benchmark replays simulations day by day through it.
    """
    prior = prior or CategoryPrior()
    receipts = receipts or {}
    stats = stats or demand_stats(history, as_of_day, config.ewma_alpha, config.demand_history_days)
    beta = elasticity(stats, prior)
    share = level_variance_share(config.ewma_alpha)
    delta = dispersion(stats, prior, share)
    horizon = max(config.forecast_days, lead_time_days + 1)
    daily = forecast(stats.level, stats.dow_index, as_of_day, horizon, discounts, beta)
    today_rest = max(daily[0][1] - sold_today, 0.0) * today_share
    means = [units for _, units in daily[1:]]
    supply = supply_by_day(on_hand, receipts, as_of_day, horizon - 1)
    index_share = index_variance_share(stats.plain_days)
    probability = stockout_probability(
        today_rest, means[:lead_time_days], supply[:lead_time_days], delta, share, index_share
    )
    day_probability = stockout_probability(today_rest, means[:1], supply[:1], delta, share, index_share)
    safety = safety_stock(z_score(config.service_level), stats.std, lead_time_days)
    order_up_to = order_up_to_level(stats.level, lead_time_days, config.review_period_days, safety)
    incoming = sum(receipts.values())
    conditions = alert_conditions(
        on_hand=on_hand,
        probability=probability,
        day_probability=day_probability,
        cover=days_of_cover(on_hand, stats.level),
        overstock_cover_days=config.overstock_cover_days,
        open_at=config.alert_min_probability,
        close_below=config.alert_close_probability,
        risk_open=risk_open,
        received_since_open=received_since_open,
    )
    return Assessment(
        stats=stats,
        on_hand=on_hand,
        on_order=incoming,
        elasticity=beta,
        dispersion=delta,
        daily_forecast=daily[: config.forecast_days],
        safety_stock=safety,
        reorder_point=reorder_point(stats.level, lead_time_days, safety),
        order_up_to_level=order_up_to,
        recommended_order_qty=recommended_order_qty(order_up_to, on_hand + incoming),
        predicted_stockout_date=predicted_stockout_date(on_hand, daily[: config.forecast_days], sold_today),
        expected_stockout_date=expected_stockout_date(
            as_of_day,
            today_rest,
            means[: config.forecast_days - 1],
            supply[: config.forecast_days - 1],
            on_hand,
        ),
        probability=probability,
        day_probability=day_probability,
        conditions=conditions,
    )
