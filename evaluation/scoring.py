"""Score stock alerts against the producer's ground truth, and against a fixed-threshold rule.

Two figures, as the gold issue defines them:

- caught: the share of true stockouts (truth file `stockouts`, `empty_since`) for which an
  alert of the same store-SKU was open one lead time before the shelf went empty, so an order
  placed then could still have arrived in time;
- precision: the share of alerts followed by a true stockout of the same store-SKU while they
  were open or within one lead time after they closed.

Only predictive kinds count (`below_reorder_point`, `predicted_stockout`): a `stockout` alert
reports what has happened and `overstock` is not about running out. The baseline
(`threshold_windows`) alerts whenever the closing stock of a day is below a fixed number.

`replay` produces gold's alerts for a whole simulation without running gold once per day: it
feeds what silver accepts of the events, day by day, through `stock_model.assess`, the
plain-Python chain of the formulas that integration tests hold gold's Spark version to.
Each run is evaluated at the end of its day, as if gold ran once at closing; the every-minute
schedule can only open alerts earlier.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path

from lakehouse.config import GoldSettings
from producer.bad_events import DUPLICATE_EVENT_ID, INVALID_CLASSES
from producer.events import Event
from producer.truth import GroundTruth
from spark_jobs.gold import calibration
from spark_jobs.gold import stock_model as model

PREDICTIVE_KINDS = ("below_reorder_point", "predicted_stockout")


@dataclass(frozen=True)
class AlertWindow:
    store_id: str
    sku: str
    opened_at: datetime
    closed_at: datetime | None  # None while open


@dataclass(frozen=True)
class TrueStockout:
    store_id: str
    sku: str
    empty_since: datetime


@dataclass(frozen=True)
class Score:
    stockouts: int
    caught: int
    alerts: int
    followed_by_stockout: int

    @property
    def caught_share(self) -> float:
        return self.caught / self.stockouts if self.stockouts else 0.0

    @property
    def precision(self) -> float:
        return self.followed_by_stockout / self.alerts if self.alerts else 0.0


def _open_at(window: AlertWindow, moment: datetime) -> bool:
    return window.opened_at <= moment and (window.closed_at is None or moment < window.closed_at)


def score(
    alerts: Iterable[AlertWindow], stockouts: Iterable[TrueStockout], lead_time: Callable[[str], int]
) -> Score:
    """Caught share and precision of `alerts`; `lead_time(sku)` gives a SKU's lead time in days."""
    by_key: dict[tuple[str, str], list[AlertWindow]] = defaultdict(list)
    alerts = list(alerts)
    for window in alerts:
        by_key[(window.store_id, window.sku)].append(window)
    stockouts = list(stockouts)
    caught = sum(
        any(
            _open_at(window, stockout.empty_since - timedelta(days=lead_time(stockout.sku)))
            for window in by_key[(stockout.store_id, stockout.sku)]
        )
        for stockout in stockouts
    )
    outs_by_key: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for stockout in stockouts:
        outs_by_key[(stockout.store_id, stockout.sku)].append(stockout.empty_since)
    followed = 0
    for window in alerts:
        horizon = (
            None if window.closed_at is None else window.closed_at + timedelta(days=lead_time(window.sku))
        )
        followed += any(
            window.opened_at <= empty and (horizon is None or empty <= horizon)
            for empty in outs_by_key[(window.store_id, window.sku)]
        )
    return Score(len(stockouts), caught, len(alerts), followed)


def threshold_windows(closings: Iterable[tuple[str, str, date, int]], threshold: int) -> list[AlertWindow]:
    """The fixed rule's alerts: open at the end of a day that closes below `threshold`, closed at
    the end of the first day that closes at or above it. closings: (store_id, sku, day, units)."""
    series: dict[tuple[str, str], list[tuple[date, int]]] = defaultdict(list)
    for store_id, sku, day, units in closings:
        series[(store_id, sku)].append((day, units))
    windows = []
    for (store_id, sku), days in series.items():
        opened: datetime | None = None
        for day, units in sorted(days):
            end_of_day = datetime.combine(day + timedelta(days=1), time())
            if units < threshold and opened is None:
                opened = end_of_day
            elif units >= threshold and opened is not None:
                windows.append(AlertWindow(store_id, sku, opened, end_of_day))
                opened = None
        if opened is not None:
            windows.append(AlertWindow(store_id, sku, opened, None))
    return windows


# Injected defects that silver quarantines; a late event is valid and is kept.
_REJECTED = frozenset((*INVALID_CLASSES, DUPLICATE_EVENT_ID))
_MOVEMENT_LINES = {"sale": "quantity", "delivery": "quantity", "stock_count": "counted_quantity"}


def _time(text: str, zone: tzinfo | None) -> datetime:
    """An event's UTC ISO time as naive UTC, or as naive local time in `zone`."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment.astimezone(zone) if zone else moment.astimezone(UTC)).replace(tzinfo=None)


def accepted_movements(
    events: Iterable[Event], zones: Mapping[str, tzinfo] | None = None
) -> dict[tuple[str, str], list[model.Movement]]:
    """Stock movements per (store_id, sku) of the events silver accepts, at their event time.

    Injected bad events are left out as silver quarantines them (the end-to-end test checks
    that it does), so the replay sees what gold would. With `zones` (store_id -> time zone),
    times are the store's local time, so a day is the store's business day.
    """
    return accepted_events(events, zones).movements


@dataclass
class AcceptedEvents:
    """What gold's model sees of a simulation, per store-SKU: movements, order lines, promotions."""

    movements: dict[tuple[str, str], list[model.Movement]] = field(default_factory=lambda: defaultdict(list))
    order_lines: dict[tuple[str, str], list[model.OrderLine]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # (store_ids or None, sku, discount fraction, first_day, last_day, announced at)
    promotions: list[tuple[tuple[str, ...] | None, str, float, date, date, datetime]] = field(
        default_factory=list
    )


def accepted_events(events: Iterable[Event], zones: Mapping[str, tzinfo] | None = None) -> AcceptedEvents:
    """`accepted_movements`, plus the purchase order lines (closed by the deliveries carrying
    their order id) and the promotions silver accepts; see `accepted_movements` for `zones`."""
    found = AcceptedEvents()
    received: dict[tuple[str, str, str], tuple[int, datetime]] = {}
    for event in events:
        if event.bad_class in _REJECTED:
            continue
        kind = event.event_type
        if kind not in _MOVEMENT_LINES and kind not in ("purchase_order", "promotion"):
            continue
        document = json.loads(event.payload)
        zone = zones.get(document.get("store_id")) if zones and document.get("store_id") else None
        at = _time(document["event_time"], zone)
        if kind == "promotion":
            stores = document.get("store_ids")
            for sku in document["skus"]:
                found.promotions.append(
                    (
                        None if stores is None else tuple(stores),
                        sku,
                        document["discount_percent"] / 100,
                        date.fromisoformat(document["first_day"]),
                        date.fromisoformat(document["last_day"]),
                        datetime.fromisoformat(document["event_time"].replace("Z", "+00:00")),
                    )
                )
            continue
        store = document["store_id"]
        if kind == "purchase_order":
            for line in document["lines"]:
                found.order_lines[(store, line["sku"])].append(
                    model.OrderLine(
                        document["order_id"],
                        line["sku"],
                        _time(document["ordered_at"], zone),
                        _time(document["expected_at"], zone),
                        line["quantity"],
                    )
                )
            continue
        if kind == "delivery" and document.get("order_id"):
            for line in document["lines"]:
                key = (store, document["order_id"], line["sku"])
                units, first = received.get(key, (0, at))
                received[key] = (units + line["quantity"], min(first, at))
        movement = "count" if kind == "stock_count" else kind
        for line in document["lines"]:
            found.movements[(store, line["sku"])].append(
                model.Movement(at, movement, line[_MOVEMENT_LINES[kind]])
            )
    for (store, sku), lines in found.order_lines.items():
        closed = []
        for line in lines:
            came = received.get((store, line.order_id, sku))
            closed.append(line if came is None else replace(line, received=came[0], received_at=came[1]))
        found.order_lines[(store, sku)] = closed
    return found


@dataclass(frozen=True)
class ScoredDay:
    """What gold's model (replayed) says about one store-SKU at the close of one business day."""

    store_id: str
    sku: str
    day: date
    on_hand: int  # book stock, as gold sees it
    probability: float  # of a stockout within the lead time, calibrated (`calibrate`)
    day_probability: float
    level: float  # units per day
    old_rule: bool  # the threshold rule gold had before (stock_model.threshold_conditions)
    forecast: tuple[float, ...]  # days 1.. after `day`
    raw_probability: float = 0.0  # the same before calibration
    lead_time_days: int = 0


def promotion_discounts(
    promotions: list, store_id: str, sku: str, announced_by: datetime | None
) -> dict[date, float]:
    found: dict[date, float] = {}
    for stores, promoted, discount, first, last, announced in promotions:
        if promoted != sku or (stores is not None and store_id not in stores):
            continue
        if announced_by is not None and announced > announced_by:
            continue
        day = first
        while day <= last:
            found[day] = max(found.get(day, 0.0), discount)
            day += timedelta(days=1)
    return found


def replay(
    accepted: AcceptedEvents,
    lead_times: Mapping[str, int],
    categories: Mapping[str, str],
    first_day: date,
    first_scored_day: date,
    last_day: date,
    config: GoldSettings,
    day_end: Callable[[str, date], datetime] | None = None,
) -> list[ScoredDay]:
    """Gold's model run at the close of each business day from `first_scored_day` on.

    Days from `first_day` are history. Each day, as gold does in Spark: demand statistics per
    store-SKU, its category's pooled prior, then `stock_model.assess` with the promotions
    announced by then (`day_end(store_id, day)`, UTC, is the close; None: every promotion) and
    the order lines open at the close.
    """
    share = model.level_variance_share(config.ewma_alpha)
    by_promo = defaultdict(list)
    for promotion in accepted.promotions:
        by_promo[promotion[1]].append(promotion)
    series = []
    for (store_id, sku), moves in accepted.movements.items():
        positions = model.daily_positions(moves, first_day, last_day)
        known = promotion_discounts(by_promo[sku], store_id, sku, None)
        history = [(p.day, p.sold, p.closing > 0, known.get(p.day, 0.0)) for p in positions]
        series.append((store_id, sku, positions, history))
    stats: dict[tuple[str, str, date], model.DemandStats] = {}
    pooled: dict[tuple[str, date], list[model.DemandStats]] = defaultdict(list)
    for store_id, sku, positions, history in series:
        for index, position in enumerate(positions):
            if position.day < first_scored_day:
                continue
            found = model.demand_stats(
                history[:index], position.day, config.ewma_alpha, config.demand_history_days
            )
            stats[(store_id, sku, position.day)] = found
            pooled[(categories.get(sku, ""), position.day)].append(found)
    priors = {key: model.category_prior(members, share) for key, members in pooled.items()}
    scored: list[ScoredDay] = []
    z = model.z_score(config.service_level)
    for store_id, sku, positions, history in series:
        lead = lead_times.get(sku, config.default_lead_time_days)
        lines = accepted.order_lines.get((store_id, sku), [])
        risk_open, opened_on = False, None
        for index, position in enumerate(positions):
            if position.day < first_scored_day:
                continue
            close = datetime.combine(position.day + timedelta(days=1), time())
            receipts: dict[date, int] = defaultdict(int)
            for line in lines:
                if line.ordered_at < close:
                    units = model.on_order(line, close)
                    if units:
                        receipts[model.receipt_day(line.expected_at.date(), position.day)] += units
            announced_by = day_end(store_id, position.day) if day_end else None
            received_since = opened_on is not None and any(
                p.received > 0 for p in positions[: index + 1] if p.day > opened_on
            )
            assessment = model.assess(
                history[:index],
                on_hand=position.closing,
                sold_today=position.sold,
                as_of_day=position.day,
                lead_time_days=lead,
                config=config,
                prior=priors[(categories.get(sku, ""), position.day)],
                discounts=promotion_discounts(by_promo[sku], store_id, sku, announced_by),
                receipts=receipts,
                risk_open=risk_open,
                received_since_open=received_since,
                stats=stats[(store_id, sku, position.day)],
            )
            holds = "stockout_risk" in assessment.conditions
            if holds and not risk_open:
                opened_on = position.day
            risk_open = holds
            old = model.threshold_conditions(
                on_hand=position.closing,
                safety=model.safety_stock(z, assessment.stats.std, lead),
                reorder=assessment.reorder_point,
                stockout_date=assessment.predicted_stockout_date,
                as_of_day=position.day,
                lead_time_days=lead,
            )
            scored.append(
                ScoredDay(
                    store_id,
                    sku,
                    position.day,
                    position.closing,
                    assessment.probability,
                    assessment.day_probability,
                    assessment.stats.level,
                    bool(old),
                    tuple(units for _, units in assessment.daily_forecast[1:]),
                    assessment.probability,
                    lead,
                )
            )
    return calibrate(scored)


def calibrate(scored: Sequence[ScoredDay]) -> list[ScoredDay]:
    """Each day's probabilities through the map gold's load would fit that day (calibration.py).

    Gold keeps each day's raw probability where there was stock, and fits its map on the days
    whose lead time has ended, by the book stock it saw; the replay keeps the same record. The
    alert lifecycle inside `replay` ran on the raw probability; the scores use these.
    """
    record: dict[tuple[str, str], list[calibration.RecordedDay]] = defaultdict(list)
    for item in scored:
        probability = item.raw_probability if item.on_hand > 0 else None
        record[(item.store_id, item.sku)].append(
            calibration.RecordedDay(item.day, item.on_hand, probability, item.lead_time_days)
        )
    maps = {
        day: calibration.fit(calibration.bin_outcomes(calibration.known_outcomes(record, day)), day)
        for day in sorted({item.day for item in scored})
    }
    return [replace(item, probability=maps[item.day].apply(item.raw_probability)) for item in scored]


def stockouts_of(truth: GroundTruth) -> list[TrueStockout]:
    """The stockouts a simulation recorded, as `truth_stockouts` reads them from its file."""
    return [
        TrueStockout(
            item.store_id,
            item.sku,
            datetime.fromtimestamp(item.empty_since_ms / 1000, UTC).replace(tzinfo=None),
        )
        for item in truth.stockouts
    ]


def truth_stockouts(path: Path | str) -> list[TrueStockout]:
    """The `stockouts` of a producer truth file (see producer/truth.py).

    Times are naive UTC here, as in `AlertWindow`: convert aware times with `.replace(tzinfo=None)`
    after `.astimezone(UTC)`.
    """
    document = json.loads(Path(path).read_text())
    return [
        TrueStockout(
            item["store_id"],
            item["sku"],
            datetime.fromisoformat(item["empty_since"].replace("Z", "+00:00")).replace(tzinfo=None),
        )
        for item in document["stockouts"]
    ]


def local_date(epoch_ms: int, zone: tzinfo) -> date:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).astimezone(zone).date()


@dataclass(frozen=True)
class TruthDay:
    expected_demand: float
    true_demand: int
    sold: int
    closing_on_hand: int
    on_promotion: bool


def truth_days(truth: GroundTruth) -> dict[tuple[str, str, date], TruthDay]:
    """The truth's `daily` rows by (store_id, sku, business day)."""
    return {
        (row["store_id"], row["sku"], date.fromisoformat(row["day"])): TruthDay(
            row["expected_demand"],
            row["true_demand"],
            row["sold"],
            row["closing_on_hand"],
            row["promotion_id"] is not None,
        )
        for row in truth.daily_rows()
    }


def true_receipts(truth: GroundTruth, zones: Mapping[str, tzinfo]) -> dict[tuple[str, str], list[tuple]]:
    """Per store-SKU: (ordered_at UTC, arrival day local, units) as the supplier really delivered."""
    faults = {(f["order_id"], f["sku"]): f for f in truth.supplier_faults}
    found: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for order in truth.orders:
        zone = zones[order["store_id"]]
        ordered = datetime.fromisoformat(order["ordered_at"].replace("Z", "+00:00"))
        for line in order["lines"]:
            fault = faults.get((order["order_id"], line["sku"]))
            arrival = fault["received_at"] if fault else order["expected_at"]
            units = fault["received"] if fault else line["quantity"]
            day = datetime.fromisoformat(arrival.replace("Z", "+00:00")).astimezone(zone).date()
            found[(order["store_id"], line["sku"])].append((ordered, day, units))
    return found


def oracle_dispersion() -> float:
    """The simulator's own day dispersion: a compound Poisson of basket quantities has variance
    mean x E[q^2] / E[q], i.e. dispersion E[q^2] / E[q] - 1 (the day noise is in the mean)."""
    from producer.demand import QUANTITIES, QUANTITY_WEIGHTS

    mean = sum(q * w for q, w in zip(QUANTITIES, QUANTITY_WEIGHTS, strict=True))
    square = sum(q * q * w for q, w in zip(QUANTITIES, QUANTITY_WEIGHTS, strict=True))
    return square / mean - 1


def oracle_probability(
    days: Mapping[tuple[str, str, date], TruthDay],
    receipts: Sequence[tuple],
    store_id: str,
    sku: str,
    day: date,
    close: datetime,
    lead: int,
    dispersion: float,
) -> float:
    """The ceiling: the same probability from the true closing stock, the true expected demand of
    the next `lead` days (promotions included) and the orders as the supplier really delivers them."""
    on_hand = days[(store_id, sku, day)].closing_on_hand
    arriving: dict[date, int] = defaultdict(int)
    for ordered, arrival, units in receipts:
        if ordered <= close and arrival > day:
            arriving[arrival] += units
    means = [
        days[(store_id, sku, day + timedelta(days=t))].expected_demand
        if (store_id, sku, day + timedelta(days=t)) in days
        else 0.0
        for t in range(1, lead + 1)
    ]
    supply = model.supply_by_day(on_hand, arriving, day, lead)
    return model.stockout_probability(0.0, means, supply, dispersion)
