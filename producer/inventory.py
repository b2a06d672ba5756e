"""Stock on hand per store and SKU: sales take from it, deliveries add, shrinkage steals.

The invariants the tests check live here: on-hand never goes negative, a sale never takes more
than is on the shelf (the rest is lost demand, recorded only in the truth), a delivery never
brings more than was ordered and closes its order line whatever it brings. An (s, S) review at
closing time orders against a forecast that ignores promotions, and now and then orders short
on purpose; suppliers now and then deliver short or late: all make real stockouts, and each
stockout records which of them (or shrinkage, or plain demand noise) it came from.

The day's demand per SKU (units wanted, units sold) is counted here too, for the truth's daily
rows: two list increments per sale line, read and reset at each closing.
"""

from __future__ import annotations

import math
import random
from collections.abc import Container
from dataclasses import dataclass

from producer.catalog import Product, Store
from producer.truth import (
    DEMAND_NOISE,
    PROMOTION,
    SHRINKAGE,
    SUPPLIER_FAULT,
    UNDER_ORDER,
    GroundTruth,
    Stockout,
)


@dataclass(frozen=True)
class ReplenishmentPolicy:
    cover_days: float
    safety_factor: float
    under_order_probability: float
    shrink_probability: float


@dataclass(frozen=True)
class OrderLine:
    product_index: int
    quantity: int
    planned_quantity: int

    @property
    def under_ordered(self) -> bool:
        return self.quantity < self.planned_quantity


class StoreInventory:
    """On-hand and on-order units of every SKU in one store, with its open stockout episodes."""

    def __init__(
        self,
        store: Store,
        products: tuple[Product, ...],
        forecast: list[float],
        policy: ReplenishmentPolicy,
        truth: GroundTruth,
        rng: random.Random,
    ) -> None:
        self.store = store
        self.products = products
        self.policy = policy
        self.truth = truth
        self.reorder_point = [
            math.ceil(daily * (product.lead_time_days + 1) * policy.safety_factor) + 1
            for daily, product in zip(forecast, products, strict=True)
        ]
        self.order_up_to = [
            point + math.ceil(daily * policy.cover_days)
            for point, daily in zip(self.reorder_point, forecast, strict=True)
        ]
        # Start between 40 % and 100 % of the order-up-to level: some shelves start thin.
        self.on_hand = [max(1, round(level * rng.uniform(0.4, 1.0))) for level in self.order_up_to]
        count = len(products)
        self.on_order = [0] * count
        self.open_stockouts: dict[int, Stockout] = {}
        # Units asked for and sold since the last closing, for the truth's daily rows.
        self.wanted = [0] * count
        self.sold = [0] * count
        # What a stockout's cause is decided from (see producer.truth for the order).
        self.promoted: Container[int] = ()  # SKUs on promotion today, set by the simulation
        self.last_order_cut = [False] * count
        self.last_delivery_short = [False] * count
        self.late_due_ms: dict[int, int] = {}  # SKU -> when its overdue (late) order was expected

    def sell(self, index: int, wanted: int, time_ms: int) -> int:
        """Take up to `wanted` units off the shelf; returns units sold, the rest is lost demand."""
        self.wanted[index] += wanted
        have = self.on_hand[index]
        if have > wanted:
            self.on_hand[index] = have - wanted
            self.sold[index] += wanted
            return wanted
        self.sold[index] += have
        if have > 0:
            self.on_hand[index] = 0
            self._open_stockout(index, time_ms)
            if have == wanted:
                return wanted
        lost = wanted - have
        stockout = self.open_stockouts[index]
        stockout.lost_units += lost
        stockout.lost_lines += 1
        self.truth.lost_units += lost
        return have

    def expect_late(self, index: int, expected_ms: int) -> None:
        """An order of this SKU will come late: from `expected_ms` on, a stockout is the supplier's."""
        self.late_due_ms[index] = expected_ms

    def receive(self, lines: list[tuple[int, int, int]], time_ms: int, late: bool) -> None:
        """A delivery arrives: (SKU, ordered, received) lines; the order is closed, short or not."""
        for index, ordered, received in lines:
            self.on_hand[index] += received
            self.on_order[index] -= ordered
            self.last_delivery_short[index] = received < ordered
            if late:
                self.late_due_ms.pop(index, None)
            stockout = self.open_stockouts.pop(index, None) if self.on_hand[index] > 0 else None
            if stockout is not None:
                stockout.restocked_at_ms = time_ms

    def close_day(self) -> tuple[list[int], list[int]]:
        """(wanted, sold) per SKU since the last closing; the counters start again from zero."""
        counted = self.wanted, self.sold
        self.wanted = [0] * len(self.products)
        self.sold = [0] * len(self.products)
        return counted

    def review(self, rng: random.Random) -> list[OrderLine]:
        """The closing-time (s, S) review: order up to S where on hand plus on order is at or below s."""
        lines = []
        for index, point in enumerate(self.reorder_point):
            position = self.on_hand[index] + self.on_order[index]
            if position > point:
                continue
            planned = self.order_up_to[index] - position
            quantity = planned
            if rng.random() < self.policy.under_order_probability:
                quantity = math.floor(planned * rng.uniform(0.1, 0.5))
            if quantity <= 0:
                continue
            self.last_order_cut[index] = quantity < planned
            self.on_order[index] += quantity
            lines.append(OrderLine(index, quantity, planned))
        return lines

    def count(self, indexes: list[int], time_ms: int, rng: random.Random) -> list[tuple[int, int]]:
        """A cycle count: shrinkage found since the last count is written off, true units reported."""
        counted = []
        for index in indexes:
            have = self.on_hand[index]
            if have > 0 and rng.random() < self.policy.shrink_probability:
                loss = rng.randint(1, max(1, have // 20))
                self.on_hand[index] = have - loss
                self.truth.shrinkage_units += loss
                if loss == have:
                    self._open_stockout(index, time_ms, by_count=True)
            counted.append((index, self.on_hand[index]))
        return counted

    def _open_stockout(self, index: int, time_ms: int, by_count: bool = False) -> None:
        stockout = Stockout(
            self.store.store_id, self.products[index].sku, time_ms, self._cause(index, time_ms, by_count)
        )
        self.open_stockouts[index] = stockout
        self.truth.stockouts.append(stockout)

    def _cause(self, index: int, time_ms: int, by_count: bool) -> str:
        """Why the shelf went empty: the first that applies, in the order producer.truth documents."""
        if by_count:
            return SHRINKAGE
        late_since = self.late_due_ms.get(index)
        if self.last_delivery_short[index] or (late_since is not None and time_ms >= late_since):
            return SUPPLIER_FAULT
        if self.last_order_cut[index]:
            return UNDER_ORDER
        if index in self.promoted:
            return PROMOTION
        return DEMAND_NOISE
