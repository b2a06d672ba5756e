"""The ground truth: what really happened in the simulated chain, to score the pipeline against.

The event stream shows only what a real chain's systems would record. The truth adds what
they cannot see: when a shelf really went empty and why, how much demand it turned away, what
demand the simulator expected each day, how much stock vanished to shrinkage, which orders
were deliberately short, which deliveries the supplier got wrong, and every bad input the
producer injected on purpose. `--truth-file` writes it as one JSON document:

    {"truth_version": 1,
     "config": {...},                      # the SimulationConfig that produced the run
     "summary": {"events_by_type": {...}, "bad_events_by_class": {...},
                 "lost_units": n, "lost_baskets": n, "shrinkage_units": n, ...},
     "stockouts": [{"store_id", "sku", "empty_since", "restocked_at" (null if still empty),
                    "lost_units", "lost_lines", "cause"}],
     "orders": [{"order_id", "store_id", "supplier_id", "ordered_at", "expected_at",
                 "lines": [{"sku", "quantity", "planned_quantity", "under_ordered"}]}],
     "supplier_faults": [{"order_id", "store_id", "sku", "kind" ("short" or "late"),
                          "ordered", "received", "expected_at", "received_at"}],
     "promotions": [{"promotion_id", "skus", "discount_percent", "first_day", "last_day",
                     "announced_at"}],
     "daily": [{"store_id", "sku", "day", "expected_demand", "true_demand", "sold",
                "closing_on_hand", "on_order", "promotion_id"}],
     "bad_events": [{"seq", "event_id", "class", "event_type", "detail", ...}]}

Times are UTC ISO-8601 like the events; days are store-local business days. `seq` is the
event's 0-based position in the producer's output. Bad classes are listed in
`producer.bad_events`.

`daily` has one row per store, SKU and business day lying wholly inside a backfill run (a live
run follows its --rate, not the demand model's day, and has none): `expected_demand` is the
simulator's mean (weekday factor, promotion lift and the mean of the daily noise included; the
model has no annual season), `true_demand` the units shoppers wanted including lost sales,
`sold` what they got, `closing_on_hand` and `on_order` (ordered, not yet received) after the
store's closing review and cycle count. It is kept compactly (`DayBlock`, arrays per
store-day) and expanded into rows only by `daily_rows()`, so a long run stays cheap.

A stockout's `cause` is the first that applies, in this order:

1. `shrinkage`: the shelf went empty at a cycle count (the last units were written off);
2. `supplier_fault`: the store-SKU's last delivery came short, or an order of it is overdue
   because the supplier is a day late;
3. `under_order`: its last order was cut on purpose (`under_ordered` in `orders`);
4. `promotion`: it is on promotion that day (demand above what the policy ordered for);
5. `demand_noise`: none of these; demand simply ran above the forecast.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from producer.events import iso_time

TRUTH_VERSION = 1

SHRINKAGE = "shrinkage"
SUPPLIER_FAULT = "supplier_fault"
UNDER_ORDER = "under_order"
PROMOTION = "promotion"
DEMAND_NOISE = "demand_noise"
STOCKOUT_CAUSES = (SHRINKAGE, SUPPLIER_FAULT, UNDER_ORDER, PROMOTION, DEMAND_NOISE)


@dataclass
class Stockout:
    """One episode of a store-SKU at zero units on hand, until a delivery refills it."""

    store_id: str
    sku: str
    empty_since_ms: int
    cause: str
    restocked_at_ms: int | None = None
    lost_units: int = 0
    lost_lines: int = 0

    def as_dict(self) -> dict:
        return {
            "store_id": self.store_id,
            "sku": self.sku,
            "empty_since": iso_time(self.empty_since_ms),
            "restocked_at": None if self.restocked_at_ms is None else iso_time(self.restocked_at_ms),
            "lost_units": self.lost_units,
            "lost_lines": self.lost_lines,
            "cause": self.cause,
        }


@dataclass(frozen=True)
class DayBlock:
    """One store's business day, every SKU at once: what `daily_rows` expands into rows.

    `shares` and `promotion_ids` are shared with the week's plan, not copied; the counts are
    compact arrays in catalog order.
    """

    store_id: str
    day: str
    expected_units: float  # mean units asked for in the whole store that day
    shares: Sequence[float]  # each SKU's share of them
    promotion_ids: Mapping[int, str]  # catalog index -> promotion running that day
    wanted: array
    sold: array
    closing_on_hand: array
    on_order: array


@dataclass
class GroundTruth:
    """Collected while simulating; read it from `Simulation.truth` or write it with `write()`."""

    config: dict
    stockouts: list[Stockout] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    supplier_faults: list[dict] = field(default_factory=list)
    promotions: list[dict] = field(default_factory=list)
    daily: list[DayBlock] = field(default_factory=list)
    skus: Sequence[str] = ()
    bad_events: list[dict] = field(default_factory=list)
    events_by_type: Counter = field(default_factory=Counter)
    bad_events_by_class: Counter = field(default_factory=Counter)
    lost_units: int = 0
    lost_baskets: int = 0
    shrinkage_units: int = 0
    events_emitted: int = 0

    def daily_rows(self) -> Iterator[dict]:
        """The `daily` rows of the truth file, one per store, SKU and business day, in time order."""
        skus = self.skus
        for block in self.daily:
            expected = block.expected_units
            for index, sku in enumerate(skus):
                yield {
                    "store_id": block.store_id,
                    "sku": sku,
                    "day": block.day,
                    "expected_demand": round(expected * block.shares[index], 4),
                    "true_demand": block.wanted[index],
                    "sold": block.sold[index],
                    "closing_on_hand": block.closing_on_hand[index],
                    "on_order": block.on_order[index],
                    "promotion_id": block.promotion_ids.get(index),
                }

    def as_dict(self) -> dict:
        return {
            "truth_version": TRUTH_VERSION,
            "config": self.config,
            "summary": {
                "events_emitted": self.events_emitted,
                "events_by_type": dict(sorted(self.events_by_type.items())),
                "bad_events_by_class": dict(sorted(self.bad_events_by_class.items())),
                "stockouts": len(self.stockouts),
                "lost_units": self.lost_units,
                "lost_baskets": self.lost_baskets,
                "shrinkage_units": self.shrinkage_units,
                "orders": len(self.orders),
                "under_ordered_lines": sum(
                    line["under_ordered"] for order in self.orders for line in order["lines"]
                ),
                "stockouts_by_cause": dict(sorted(Counter(s.cause for s in self.stockouts).items())),
                "supplier_faults": len(self.supplier_faults),
                "promotions": len(self.promotions),
                "daily_rows": len(self.daily) * len(self.skus),
            },
            "stockouts": [stockout.as_dict() for stockout in self.stockouts],
            "orders": self.orders,
            "supplier_faults": self.supplier_faults,
            "promotions": self.promotions,
            "daily": list(self.daily_rows()),
            "bad_events": self.bad_events,
        }

    def write(self, path: Path | str) -> None:
        """Write the truth as indented JSON; byte-identical for the same seed and arguments."""
        Path(path).write_text(json.dumps(self.as_dict(), indent=1) + "\n")
