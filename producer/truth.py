"""The ground truth: what really happened in the simulated chain, to score the pipeline against.

The event stream shows only what a real chain's systems would record. The truth adds what
they cannot see: when a shelf really went empty, how much demand it turned away, how much
stock vanished to shrinkage, which orders were deliberately short, and every bad input the
producer injected on purpose. `--truth-file` writes it as one JSON document:

    {"truth_version": 1,
     "config": {...},                      # the SimulationConfig that produced the run
     "summary": {"events_by_type": {...}, "bad_events_by_class": {...},
                 "lost_units": n, "lost_baskets": n, "shrinkage_units": n, ...},
     "stockouts": [{"store_id", "sku", "empty_since", "restocked_at" (null if still empty),
                    "lost_units", "lost_lines"}],
     "orders": [{"order_id", "store_id", "supplier_id", "ordered_at", "expected_at",
                 "lines": [{"sku", "quantity", "planned_quantity", "under_ordered"}]}],
     "bad_events": [{"seq", "event_id", "class", "event_type", "detail", ...}]}

Times are UTC ISO-8601 like the events. `seq` is the event's 0-based position in the
producer's output. Bad classes are listed in `producer.bad_events`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from producer.events import iso_time

TRUTH_VERSION = 1


@dataclass
class Stockout:
    """One episode of a store-SKU at zero units on hand, until a delivery refills it."""

    store_id: str
    sku: str
    empty_since_ms: int
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
        }


@dataclass
class GroundTruth:
    """Collected while simulating; read it from `Simulation.truth` or write it with `write()`."""

    config: dict
    stockouts: list[Stockout] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    bad_events: list[dict] = field(default_factory=list)
    events_by_type: Counter = field(default_factory=Counter)
    bad_events_by_class: Counter = field(default_factory=Counter)
    lost_units: int = 0
    lost_baskets: int = 0
    shrinkage_units: int = 0
    events_emitted: int = 0

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
            },
            "stockouts": [stockout.as_dict() for stockout in self.stockouts],
            "orders": self.orders,
            "bad_events": self.bad_events,
        }

    def write(self, path: Path | str) -> None:
        """Write the truth as indented JSON; byte-identical for the same seed and arguments."""
        Path(path).write_text(json.dumps(self.as_dict(), indent=1) + "\n")
