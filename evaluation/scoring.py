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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from lakehouse.config import GoldSettings
from producer.bad_events import DUPLICATE_EVENT_ID, INVALID_CLASSES
from producer.events import Event
from producer.truth import GroundTruth
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


def accepted_movements(events: Iterable[Event]) -> dict[tuple[str, str], list[model.Movement]]:
    """Stock movements per (store_id, sku) of the events silver accepts, at their event time.

    Injected bad events are left out as silver quarantines them (the end-to-end test checks
    that it does), so the replay sees what gold would.
    """
    found: dict[tuple[str, str], list[model.Movement]] = defaultdict(list)
    for event in events:
        field = _MOVEMENT_LINES.get(event.event_type)
        if field is None or event.bad_class in _REJECTED:
            continue
        document = json.loads(event.payload)
        at = datetime.fromisoformat(document["event_time"].replace("Z", "+00:00")).replace(tzinfo=None)
        kind = "count" if event.event_type == "stock_count" else event.event_type
        for line in document["lines"]:
            found[(document["store_id"], line["sku"])].append(model.Movement(at, kind, line[field]))
    return found


@dataclass(frozen=True)
class Replay:
    alerts: list[AlertWindow]  # predictive alerts, one window per store-SKU-kind episode
    closings: list[tuple[str, str, date, int]]  # book stock at the end of each scored day


def replay(
    movements: dict[tuple[str, str], list[model.Movement]],
    lead_times: dict[str, int],
    first_day: date,
    first_scored_day: date,
    last_day: date,
    config: GoldSettings,
) -> Replay:
    """Gold's predictive alerts if it ran at the end of each day from `first_scored_day` on.

    Days from `first_day` are history; an alert raised at the end of day d is open from
    midnight after d until the end of the first day its condition no longer holds.
    """
    windows: list[AlertWindow] = []
    closings: list[tuple[str, str, date, int]] = []
    for (store_id, sku), moves in movements.items():
        lead = lead_times.get(sku, config.default_lead_time_days)
        positions = model.daily_positions(moves, first_day, last_day)
        history = [(p.day, p.sold, p.closing > 0) for p in positions]
        opened: dict[str, datetime] = {}
        for index, position in enumerate(positions):
            if position.day < first_scored_day:
                continue
            closings.append((store_id, sku, position.day, position.closing))
            assessment = model.assess(
                history[:index],
                on_hand=position.closing,
                sold_today=position.sold,
                as_of_day=position.day,
                lead_time_days=lead,
                config=config,
            )
            end_of_day = datetime.combine(position.day + timedelta(days=1), time())
            for kind in PREDICTIVE_KINDS:
                if kind in assessment.conditions:
                    opened.setdefault(kind, end_of_day)
                elif kind in opened:
                    windows.append(AlertWindow(store_id, sku, opened.pop(kind), end_of_day))
        windows.extend(AlertWindow(store_id, sku, since, None) for since in opened.values())
    return Replay(windows, closings)


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
