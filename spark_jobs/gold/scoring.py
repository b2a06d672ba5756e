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
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

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
