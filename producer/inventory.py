"""Stock on hand per store and SKU: sales take from it, deliveries add, shrinkage steals.

The invariants the tests check live here: on-hand never goes negative, a sale never takes more
than is on the shelf (the rest is lost demand, recorded only in the truth), a delivery brings
exactly what was ordered. An (s, S) review at closing time orders against a forecast that
ignores promotions, and now and then orders short on purpose: both make real stockouts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from producer.catalog import Product, Store
from producer.truth import GroundTruth, Stockout


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
        self.on_order = [0] * len(products)
        self.open_stockouts: dict[int, Stockout] = {}

    def sell(self, index: int, wanted: int, time_ms: int) -> int:
        """Take up to `wanted` units off the shelf; returns units sold, the rest is lost demand."""
        have = self.on_hand[index]
        if have > wanted:
            self.on_hand[index] = have - wanted
            return wanted
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

    def receive(self, lines: list[tuple[int, int]], time_ms: int) -> None:
        """A delivery arrives: exactly the ordered quantities go on the shelf."""
        for index, quantity in lines:
            self.on_hand[index] += quantity
            self.on_order[index] -= quantity
            stockout = self.open_stockouts.pop(index, None) if self.on_hand[index] > 0 else None
            if stockout is not None:
                stockout.restocked_at_ms = time_ms

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
                    self._open_stockout(index, time_ms)
            counted.append((index, self.on_hand[index]))
        return counted

    def _open_stockout(self, index: int, time_ms: int) -> None:
        stockout = Stockout(self.store.store_id, self.products[index].sku, time_ms)
        self.open_stockouts[index] = stockout
        self.truth.stockouts.append(stockout)
