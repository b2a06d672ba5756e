"""The store simulator: a clock, a queue of things that happen, and the events they produce.

Two clocks drive the same model. Backfill walks simulated hours from `start_date` as fast as
the machine allows; live follows the wall clock at `rate` baskets per second. Everything that
happens (a basket, a delivery, a closing-time review, a stock count, a reference refresh) is
an item in one time-ordered heap, so per-store causality holds: a delivery lands before the
sales it makes possible, a count sees the sales before it.

Randomness comes from `random.Random` instances seeded from `seed` plus a purpose, and the
backfill clock never reads the wall clock, so the same config gives byte-identical events.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from lakehouse.contracts.events import DELIVERY, PRODUCT, SALE, SCHEMA_VERSION, STOCK_COUNT, STORE
from producer import demand as model
from producer.bad_events import BAD_CLASSES, BadInputInjector
from producer.catalog import CATEGORIES, Catalog, build_catalog
from producer.events import (
    Event,
    encode,
    envelope,
    iso_time,
    money,
    random_uuid,
)
from producer.inventory import ReplenishmentPolicy, StoreInventory
from producer.truth import GroundTruth

BACKFILL = "backfill"
LIVE = "live"

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
REVIEW_AFTER_CLOSE_MS = 5 * 60_000
COUNT_AFTER_CLOSE_MS = 20 * 60_000
DELIVERY_WINDOW_MS = 50 * 60_000  # deliveries arrive in the hour before opening
LOYALTY_POOL = 20_000  # loyalty members per store
COUNT_LINES_PER_EVENT = 1000  # about 60 KB of JSON, far below the 1 MiB Kinesis record limit
MAX_PRODUCTS = 99_999
# Product snapshots are chain-wide: one partition key keeps them together in few records.
CATALOG_PARTITION_KEY = "catalog"  # SKUs have five digits; the bad-input injector relies on it

_BASKET, _DELIVERY, _REVIEW, _COUNT, _SNAPSHOT = range(5)


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that shapes a run; the same config (and, live, the same timing) gives the same events."""

    seed: int = 42
    stores: int = 20
    products: int = 500
    mode: str = BACKFILL
    start_date: date = date(2024, 1, 1)
    days: float = 7.0
    rate: float = 20.0
    duration_seconds: float | None = None
    tick_seconds: float = 0.2
    bad_rate: float = 0.0
    bad_classes: tuple[str, ...] = BAD_CLASSES
    late_delay_seconds: tuple[float, float] | None = None
    traffic_scale: float = 1.0
    zipf_exponent: float = 1.0
    mean_basket_lines: float = 3.0
    loyalty_share: float = 0.35
    promo_share: float = 0.05
    cover_days: float = 5.0
    safety_factor: float = 1.2
    under_order_probability: float = 0.15
    shrink_probability: float = 0.1

    def validate(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        checks = [
            (self.mode in (BACKFILL, LIVE), f"mode must be {BACKFILL!r} or {LIVE!r}, not {self.mode!r}"),
            (1 <= self.stores <= 999, "stores must be between 1 and 999"),
            (len(CATEGORIES) <= self.products <= MAX_PRODUCTS, f"products must be {len(CATEGORIES)}..99999"),
            (self.days > 0, "days must be positive"),
            (self.rate > 0, "rate must be positive (baskets per second)"),
            (self.duration_seconds is None or self.duration_seconds > 0, "duration must be positive"),
            (self.tick_seconds > 0, "tick_seconds must be positive"),
            (0 <= self.bad_rate <= 1, "bad_rate must be between 0 and 1"),
            (
                set(self.bad_classes) <= set(BAD_CLASSES),
                f"bad classes must be among {', '.join(BAD_CLASSES)}",
            ),
            (self.traffic_scale > 0, "traffic_scale must be positive"),
            (self.zipf_exponent >= 0, "zipf_exponent must be zero or more"),
            (self.mean_basket_lines >= 1, "mean_basket_lines must be at least 1"),
            (self.cover_days > 0 and self.safety_factor > 0, "cover_days and safety_factor must be positive"),
        ]
        for name in ("loyalty_share", "promo_share", "under_order_probability", "shrink_probability"):
            checks.append((0 <= getattr(self, name) <= 1, f"{name} must be between 0 and 1"))
        if self.late_delay_seconds is not None:
            low, high = self.late_delay_seconds
            checks.append((0 < low <= high, "late_delay_seconds must be (low, high) with 0 < low <= high"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def late_delay_ms(self) -> tuple[int, int]:
        """How late a `late_event` arrives: hours in backfill, minutes live, unless configured."""
        low, high = self.late_delay_seconds or ((3600, 6 * 3600) if self.mode == BACKFILL else (30, 300))
        return round(low * 1000), round(high * 1000)

    def as_dict(self) -> dict:
        """JSON-ready, for the truth file."""
        values = asdict(self)
        values["start_date"] = self.start_date.isoformat()
        values["bad_classes"] = list(self.bad_classes)
        if self.late_delay_seconds is not None:
            values["late_delay_seconds"] = list(self.late_delay_seconds)
        return values


class Simulation:
    """Iterate it for events; read `truth` afterwards. Call `stop()` (from any thread) to end early.

    Stopping ends generation at the next hour (backfill) or tick (live), then releases held
    late events, so the iteration finishes on its own and nothing in the truth goes unsent.
    """

    def __init__(
        self,
        config: SimulationConfig,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        config.validate()
        self.config = config
        self.catalog: Catalog = build_catalog(config.seed, config.stores, config.products)
        self.truth = GroundTruth(config=config.as_dict())
        self.demand = model.DemandModel(
            self.catalog,
            config.seed,
            zipf_exponent=config.zipf_exponent,
            promo_share=config.promo_share,
            traffic_scale=config.traffic_scale,
            mean_basket_lines=config.mean_basket_lines,
        )
        self._clock = clock
        self._sleep = sleep
        self._stop = threading.Event()
        self._started = False
        # A live run of a backfill's seed is the same chain (catalog, stock) with new event ids,
        # so `make demo` can stream live after its backfill without colliding ids.
        purpose = "simulation" if config.mode == BACKFILL else "live-simulation"
        self._rng = random.Random(f"{config.seed}:{purpose}")
        policy = ReplenishmentPolicy(
            cover_days=config.cover_days,
            safety_factor=config.safety_factor,
            under_order_probability=config.under_order_probability,
            shrink_probability=config.shrink_probability,
        )
        stock_rng = random.Random(f"{config.seed}:initial-stock")
        self.inventories = [
            StoreInventory(
                store,
                self.catalog.products,
                self.demand.expected_daily_units(index),
                policy,
                self.truth,
                stock_rng,
            )
            for index, store in enumerate(self.catalog.stores)
        ]
        self._injector = BadInputInjector(
            rate=config.bad_rate,
            classes=config.bad_classes,
            seed=config.seed,
            late_delay_ms=config.late_delay_ms(),
            truth=self.truth,
        )
        products = self.catalog.products
        self._zones = [ZoneInfo(store.timezone) for store in self.catalog.stores]
        self._skus = [product.sku for product in products]
        self._prices = [product.price_cents for product in products]
        self._price_text = [money(product.price_cents) for product in products]
        self._product_range = range(len(products))
        self._by_category = [
            [index for index, product in enumerate(products) if product.category == spec.name]
            for spec in CATEGORIES
        ]
        self._supplier_index = {spec.name: index for index, spec in enumerate(CATEGORIES)}
        probability = self.demand.extra_lines_probability()
        self._log_no_extra = math.log(1.0 - probability) if probability < 1.0 else None
        self._quantity_cw = list(itertools.accumulate(model.QUANTITY_WEIGHTS))
        self._payment_cw = list(itertools.accumulate(model.PAYMENT_WEIGHTS))
        self._heap: list[tuple] = []
        self._order = itertools.count()
        self._local_hour = [0] * len(self.catalog.stores)
        self._weekday = [0] * len(self.catalog.stores)
        self._day_factor = [1.0] * len(self.catalog.stores)
        self._day_ordinal = [-1] * len(self.catalog.stores)
        self._live_cw: list[float] = []
        self._week: int | None = None
        self._promotions: dict[int, model.Promotion] = {}
        self._cum_weights: list[list[float]] = []

    def stop(self) -> None:
        """Ask the run to finish early; safe from signal handlers and other threads."""
        self._stop.set()

    def __iter__(self) -> Iterator[Event]:
        if self._started:
            raise RuntimeError("a Simulation runs once; build a new one for another run")
        self._started = True
        return self._injector.run(self._live() if self.config.mode == LIVE else self._backfill())

    # --- clocks ---------------------------------------------------------------------------

    def _backfill(self) -> Iterator[Event]:
        start = round(datetime.combine(self.config.start_date, clock_time(), UTC).timestamp() * 1000)
        end = start + round(self.config.days * DAY_MS)
        yield from self._opening(start)
        hour = start - start % HOUR_MS
        while hour < end and not self._stop.is_set():
            self._start_hour(hour, start)
            low, high = max(hour, start), min(hour + HOUR_MS, end)
            for index, store in enumerate(self.catalog.stores):
                local_hour = self._local_hour[index]
                if model.is_open(store, local_hour):
                    weekday = self._weekday[index]
                    mean = self.demand.baskets_per_hour(store, local_hour, weekday, self._day_factor[index])
                    self._schedule_baskets(
                        index, model.poisson(self._rng, mean * (high - low) / HOUR_MS), low, high
                    )
            yield from self._run_until(high)
            hour += HOUR_MS

    def _live(self) -> Iterator[Event]:
        config = self.config
        last = self._now_ms()
        end = None if config.duration_seconds is None else last + round(config.duration_seconds * 1000)
        yield from self._opening(last)
        next_hour = last - last % HOUR_MS
        stores = range(len(self.catalog.stores))
        while not self._stop.is_set() and (end is None or last < end):
            self._sleep(config.tick_seconds)
            now = self._now_ms() if end is None else min(self._now_ms(), end)
            while next_hour <= now:
                self._start_hour(next_hour, last)
                next_hour += HOUR_MS
            if now > last:
                count = model.poisson(self._rng, config.rate * (now - last) / 1000)
                for index in self._rng.choices(stores, cum_weights=self._live_cw, k=count):
                    self._schedule_baskets(index, 1, last + 1, now + 1)
                yield from self._run_until(now + 1)
                last = now

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)

    # --- scheduling -----------------------------------------------------------------------

    def _push(self, time_ms: int, kind: int, store_index: int, data: object = None) -> None:
        heapq.heappush(self._heap, (time_ms, next(self._order), kind, store_index, data))

    def _schedule_baskets(self, store_index: int, count: int, low: int, high: int) -> None:
        randrange = self._rng.randrange
        for _ in range(count):
            self._push(low + randrange(high - low), _BASKET, store_index)

    def _start_hour(self, hour_ms: int, not_before_ms: int) -> None:
        """At each UTC hour: local hour and day of every store, closing-time work, daily refresh."""
        if hour_ms % DAY_MS == 0 and hour_ms > not_before_ms:
            self._push(hour_ms, _SNAPSHOT, -1)
        weekdays = []
        for index, store in enumerate(self.catalog.stores):
            local = datetime.fromtimestamp(hour_ms / 1000, self._zones[index])
            ordinal = local.toordinal()
            if ordinal != self._day_ordinal[index]:
                self._day_ordinal[index] = ordinal
                day_rng = random.Random(f"{self.config.seed}:day:{index}:{ordinal}")
                self._day_factor[index] = day_rng.lognormvariate(0.0, model.DAILY_NOISE_SIGMA)
            self._local_hour[index] = local.hour
            weekdays.append(local.weekday())
            if local.hour == store.closes_hour % 24:
                if hour_ms + REVIEW_AFTER_CLOSE_MS >= not_before_ms:
                    self._push(hour_ms + REVIEW_AFTER_CLOSE_MS, _REVIEW, index)
                if hour_ms + COUNT_AFTER_CLOSE_MS >= not_before_ms:
                    self._push(hour_ms + COUNT_AFTER_CLOSE_MS, _COUNT, index)
        self._weekday = weekdays
        if self.config.mode == LIVE:
            self._live_cw = list(
                itertools.accumulate(
                    self.demand.live_store_weight(store, self._local_hour[index])
                    for index, store in enumerate(self.catalog.stores)
                )
            )

    def _run_until(self, end_ms: int) -> Iterator[Event]:
        heap = self._heap
        pop = heapq.heappop
        basket = self._basket
        while heap and heap[0][0] < end_ms:
            time_ms, _, kind, index, data = pop(heap)
            if kind == _BASKET:
                event = basket(index, time_ms)
                if event is not None:
                    yield event
            elif kind == _DELIVERY:
                yield self._delivery(index, time_ms, data)
            elif kind == _REVIEW:
                self._review(index, time_ms)
            elif kind == _COUNT:
                yield from self._cycle_count(index, time_ms)
            else:
                yield from self._snapshots(time_ms)

    # --- what happens ---------------------------------------------------------------------

    def _opening(self, time_ms: int) -> Iterator[Event]:
        """Reference snapshots, then a full count per store: the opening balance downstream starts from."""
        yield from self._snapshots(time_ms)
        for index, inventory in enumerate(self.inventories):
            lines = [(product, inventory.on_hand[product]) for product in self._product_range]
            yield from self._count_events(index, time_ms, "full", None, lines)

    def _snapshots(self, time_ms: int) -> Iterator[Event]:
        rng = self._rng
        for store in self.catalog.stores:
            event_id = random_uuid(rng)
            document = envelope(event_id, STORE, time_ms, store.store_id) | store.snapshot()
            yield Event(-1, event_id, STORE, store.store_id, time_ms, encode(document))
        for product in self.catalog.products:
            event_id = random_uuid(rng)
            document = envelope(event_id, PRODUCT, time_ms, None) | product.snapshot()
            yield Event(-1, event_id, PRODUCT, CATALOG_PARTITION_KEY, time_ms, encode(document))

    def _switch_week(self, time_ms: int) -> None:
        week = model.week_of(time_ms)
        if week != self._week:
            self._week = week
            self._promotions = self.demand.promotions(week)
            self._cum_weights = [
                self.demand.cum_weights(index, week) for index in range(len(self.inventories))
            ]

    def _basket(self, index: int, time_ms: int) -> Event | None:
        """One shopper: pick SKUs by popularity, sell what the shelf has, lose the rest."""
        if model.week_of(time_ms) != self._week:
            self._switch_week(time_ms)
        rng = self._rng
        count = 1
        if self._log_no_extra is not None:
            count += int(math.log(1.0 - rng.random()) / self._log_no_extra)
        picks = rng.choices(self._product_range, cum_weights=self._cum_weights[index], k=count)
        quantities = rng.choices(model.QUANTITIES, cum_weights=self._quantity_cw, k=count)
        if count == 1:
            wanted: dict[int, int] = {picks[0]: quantities[0]}
        else:
            wanted = {}
            for product, quantity in zip(picks, quantities, strict=True):
                wanted[product] = wanted.get(product, 0) + quantity
        sell = self.inventories[index].sell
        promotions = self._promotions
        lines = []
        for product, quantity in wanted.items():
            sold = sell(product, quantity, time_ms)
            if not sold:
                continue
            promotion = promotions.get(product)
            if promotion is None:
                discount, promotion_id = "0.00", None
            else:
                cents = (self._prices[product] * sold * promotion.discount_percent + 50) // 100
                discount, promotion_id = money(cents), promotion.promotion_id
            lines.append(
                {
                    "line_number": len(lines) + 1,
                    "sku": self._skus[product],
                    "quantity": sold,
                    "unit_price": self._price_text[product],
                    "discount": discount,
                    "promotion_id": promotion_id,
                }
            )
        if not lines:
            self.truth.lost_baskets += 1
            return None
        store_id = self.catalog.stores[index].store_id
        event_id = random_uuid(rng)
        loyalty = None
        if rng.random() < self.config.loyalty_share:
            loyalty = f"L{index + 1:03d}{rng.randrange(LOYALTY_POOL):05d}"
        document = {
            "event_id": event_id,
            "event_type": SALE,
            "schema_version": SCHEMA_VERSION,
            "event_time": iso_time(time_ms),
            "store_id": store_id,
            "basket_id": random_uuid(rng),
            "payment_method": rng.choices(model.PAYMENT_METHODS, cum_weights=self._payment_cw)[0],
            "loyalty_id": loyalty,
            "lines": lines,
        }
        return Event(-1, event_id, SALE, store_id, time_ms, encode(document), len(lines))

    def _review(self, index: int, time_ms: int) -> None:
        """Closing-time replenishment: one purchase order per supplier with anything to order."""
        store = self.catalog.stores[index]
        zone = self._zones[index]
        business_day = (datetime.fromtimestamp(time_ms / 1000, zone) - timedelta(hours=1)).date()
        by_supplier: dict[int, list] = {}
        for line in self.inventories[index].review(self._rng):
            category = self.catalog.products[line.product_index].category
            by_supplier.setdefault(self._supplier_index[category], []).append(line)
        for supplier_index in sorted(by_supplier):
            supplier = self.catalog.suppliers[supplier_index]
            arrival_day = business_day + timedelta(days=supplier.lead_time_days)
            arrival = datetime.combine(arrival_day, clock_time(max(store.opens_hour - 1, 0)), zone)
            arrival_ms = round(arrival.timestamp() * 1000) + self._rng.randrange(DELIVERY_WINDOW_MS)
            lines = by_supplier[supplier_index]
            suffix = f"{self._rng.getrandbits(32):08x}"
            order_id = f"PO-{business_day:%Y%m%d}-{store.store_id}-{supplier.supplier_id}-{suffix}"
            self.truth.orders.append(
                {
                    "order_id": order_id,
                    "store_id": store.store_id,
                    "supplier_id": supplier.supplier_id,
                    "ordered_at": iso_time(time_ms),
                    "expected_at": iso_time(arrival_ms),
                    "lines": [
                        {
                            "sku": self._skus[line.product_index],
                            "quantity": line.quantity,
                            "planned_quantity": line.planned_quantity,
                            "under_ordered": line.under_ordered,
                        }
                        for line in lines
                    ],
                }
            )
            delivery = (
                order_id,
                supplier.supplier_id,
                time_ms,
                [(line.product_index, line.quantity) for line in lines],
            )
            self._push(arrival_ms, _DELIVERY, index, delivery)

    def _delivery(self, index: int, time_ms: int, order: tuple) -> Event:
        order_id, supplier_id, ordered_ms, lines = order
        self.inventories[index].receive(lines, time_ms)
        store_id = self.catalog.stores[index].store_id
        event_id = random_uuid(self._rng)
        document = envelope(event_id, DELIVERY, time_ms, store_id) | {
            "order_id": order_id,
            "supplier_id": supplier_id,
            "ordered_at": iso_time(ordered_ms),
            "lines": [
                {"line_number": number, "sku": self._skus[product], "quantity": quantity}
                for number, (product, quantity) in enumerate(lines, start=1)
            ],
        }
        return Event(-1, event_id, DELIVERY, store_id, time_ms, encode(document))

    def _cycle_count(self, index: int, time_ms: int) -> Iterator[Event]:
        """After closing, one category per store per day, rotating: shrinkage shows up here."""
        category = (time_ms // DAY_MS + index) % len(CATEGORIES)
        lines = self.inventories[index].count(self._by_category[category], time_ms, self._rng)
        return self._count_events(index, time_ms, "cycle", CATEGORIES[category].name, lines)

    def _count_events(
        self, index: int, time_ms: int, count_type: str, category: str | None, lines: list[tuple[int, int]]
    ) -> Iterator[Event]:
        """One event per COUNT_LINES_PER_EVENT lines, so a big catalog never makes a record too large."""
        store_id = self.catalog.stores[index].store_id
        day = datetime.fromtimestamp(time_ms / 1000, self._zones[index])
        for first in range(0, len(lines), COUNT_LINES_PER_EVENT):
            event_id = random_uuid(self._rng)
            document = envelope(event_id, STOCK_COUNT, time_ms, store_id) | {
                "count_id": f"SC-{day:%Y%m%d}-{store_id}-{self._rng.getrandbits(32):08x}",
                "count_type": count_type,
                "category": category,
                "lines": [
                    {"line_number": number, "sku": self._skus[product], "counted_quantity": quantity}
                    for number, (product, quantity) in enumerate(
                        lines[first : first + COUNT_LINES_PER_EVENT], 1
                    )
                ],
            }
            yield Event(-1, event_id, STOCK_COUNT, store_id, time_ms, encode(document))


def simulate(config: SimulationConfig) -> Iterator[Event]:
    """The events of one run; use `Simulation` directly to read the ground truth afterwards."""
    return iter(Simulation(config))
