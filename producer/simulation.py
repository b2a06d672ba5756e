"""The store simulator: a clock, a queue of things that happen, and the events they produce.

Two clocks drive the same model. Backfill walks simulated hours from `start_date` as fast as
the machine allows; live follows the wall clock at `rate` baskets per second. Everything that
happens (a basket, a delivery, a closing-time review with its purchase orders, a stock count, a
reference refresh, a promotion announcement) is an item in one time-ordered heap, so per-store
causality holds: a delivery lands before the sales it makes possible, a count sees the sales
before it.

Promotions run by store-local week (Monday to Sunday) and are announced `promotion_notice_days`
ahead, at 00:00 UTC; those already running or announced when a run starts are sent at its
opening with their announcement time. Each store switches to a week's pick weights when its
local week begins, so sales use exactly the announced promotions.

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
from array import array
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from lakehouse.contracts.events import (
    DELIVERY,
    PRODUCT,
    PROMOTION,
    PURCHASE_ORDER,
    SALE,
    SCHEMA_VERSION,
    STOCK_COUNT,
    STORE,
)
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
from producer.truth import DayBlock, GroundTruth

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
SHORT, LATE = "short", "late"  # supplier faults
SHORT_MISSING = (0.1, 0.6)  # share of each line a short delivery leaves out

_BASKET, _DELIVERY, _REVIEW, _COUNT, _SNAPSHOT, _ANNOUNCE = range(6)


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
    supplier_fault_share: float = 0.03
    promotion_notice_days: int = 7

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
            (0 <= self.promotion_notice_days <= 365, "promotion_notice_days must be between 0 and 365"),
        ]
        for name in (
            "loyalty_share",
            "promo_share",
            "under_order_probability",
            "shrink_probability",
            "supplier_fault_share",
        ):
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
        self.truth = GroundTruth(config=config.as_dict(), skus=tuple(p.sku for p in self.catalog.products))
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
        # Supplier faults draw from their own stream: changing their share changes nothing else.
        self._fault_rng = random.Random(f"{config.seed}:{purpose}:supplier-faults")
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
        # The first business day of each store that began inside the run: the truth's daily
        # rows start there (the day the run starts in is partial).
        self._first_full_day = [-1] * len(self.catalog.stores)
        self._live_cw: list[float] = []
        self._plans: list[model.WeekPlan | None] = [None] * len(self.catalog.stores)
        self._cum_weights: list[list[float]] = [[] for _ in self.catalog.stores]
        self._promoted: list[dict[int, model.Promotion]] = [{} for _ in self.catalog.stores]
        self._promotion_ids_of: tuple[date | None, dict[int, str]] = (None, {})
        self._units_per_basket = self.demand.units_per_basket()

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
            announced = self._announced_week(hour_ms)
            if announced is not None:
                self._push(hour_ms, _ANNOUNCE, -1, announced)
        weekdays = []
        for index, store in enumerate(self.catalog.stores):
            local = datetime.fromtimestamp(hour_ms / 1000, self._zones[index])
            ordinal = local.toordinal()
            if ordinal != self._day_ordinal[index]:
                if self._day_ordinal[index] >= 0 and self._first_full_day[index] < 0:
                    self._first_full_day[index] = ordinal
                self._day_ordinal[index] = ordinal
                day_rng = random.Random(f"{self.config.seed}:day:{index}:{ordinal}")
                self._day_factor[index] = day_rng.lognormvariate(0.0, model.DAILY_NOISE_SIGMA)
                self._start_week(index, model.monday_of(local.date()))
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
                yield from self._review(index, time_ms)
            elif kind == _COUNT:
                yield from self._cycle_count(index, time_ms)
            elif kind == _ANNOUNCE:
                yield from self._announce(data)
            else:
                yield from self._snapshots(time_ms)

    # --- what happens ---------------------------------------------------------------------

    def _opening(self, time_ms: int) -> Iterator[Event]:
        """Reference snapshots, promotions already announced, then a full count per store.

        The counts are the opening balance downstream starts from. Promotions running or
        announced by now were announced before the run: they are sent with that time, after
        the snapshots so that their SKUs are known, and are the only events out of time order.
        """
        yield from self._snapshots(time_ms)
        first_day = datetime.fromtimestamp(time_ms / 1000, UTC).date() - timedelta(days=1)
        monday = model.monday_of(first_day)  # the earliest store-local day at the start
        while self._announcement_ms(monday) <= time_ms:
            yield from self._announce(monday)
            monday += timedelta(days=7)
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

    def _announcement_ms(self, monday: date) -> int:
        """When a week's promotions are announced: 00:00 UTC, the notice before its Monday."""
        day = monday - timedelta(days=self.config.promotion_notice_days)
        return round(datetime.combine(day, clock_time(), UTC).timestamp() * 1000)

    def _announced_week(self, midnight_ms: int) -> date | None:
        """The Monday of the week announced at this 00:00 UTC, if one is."""
        day = datetime.fromtimestamp(midnight_ms / 1000, UTC).date()
        first = day + timedelta(days=self.config.promotion_notice_days)
        return first if first.weekday() == 0 else None

    def _announce(self, monday: date) -> Iterator[Event]:
        """One event per promotion of the week starting `monday`, chain-wide.

        The event id comes from the promotion id, so a later run of the same seed announcing it
        again sends an exact copy (a duplicate event id downstream), never a second promotion.
        """
        time_ms = self._announcement_ms(monday)
        for promotion in self.demand.promotions(monday):
            event_id = random_uuid(
                random.Random(f"{self.config.seed}:promotion-event:{promotion.promotion_id}")
            )
            skus = [self._skus[product] for product in promotion.products]
            self.truth.promotions.append(
                {
                    "promotion_id": promotion.promotion_id,
                    "skus": skus,
                    "discount_percent": promotion.discount_percent,
                    "first_day": promotion.first_day.isoformat(),
                    "last_day": promotion.last_day.isoformat(),
                    "announced_at": iso_time(time_ms),
                }
            )
            document = envelope(event_id, PROMOTION, time_ms, None) | {
                "promotion_id": promotion.promotion_id,
                "store_ids": None,
                "skus": skus,
                "discount_percent": promotion.discount_percent,
                "first_day": promotion.first_day.isoformat(),
                "last_day": promotion.last_day.isoformat(),
            }
            yield Event(-1, event_id, PROMOTION, CATALOG_PARTITION_KEY, time_ms, encode(document))

    def _start_week(self, index: int, monday: date) -> None:
        """A store's local week begins: its shoppers pick with that week's promotions."""
        plan = self._plans[index]
        if plan is not None and plan.monday == monday:
            return
        plan = self.demand.week(monday)
        self._plans[index] = plan
        self._cum_weights[index] = plan.cum_weights[index]
        self._promoted[index] = plan.by_product
        self.inventories[index].promoted = plan.by_product

    def _basket(self, index: int, time_ms: int) -> Event | None:
        """One shopper: pick SKUs by popularity, sell what the shelf has, lose the rest."""
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
        promotions = self._promoted[index]
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

    def _review(self, index: int, time_ms: int) -> Iterator[Event]:
        """Closing-time replenishment: one purchase order per supplier with anything to order.

        Whether the supplier will get it wrong (short or a day late) is drawn here, from the
        supplier-fault stream, and happens at the delivery.
        """
        store = self.catalog.stores[index]
        zone = self._zones[index]
        inventory = self.inventories[index]
        business_day = (datetime.fromtimestamp(time_ms / 1000, zone) - timedelta(hours=1)).date()
        by_supplier: dict[int, list] = {}
        for line in inventory.review(self._rng):
            category = self.catalog.products[line.product_index].category
            by_supplier.setdefault(self._supplier_index[category], []).append(line)
        for supplier_index in sorted(by_supplier):
            supplier = self.catalog.suppliers[supplier_index]
            arrival_day = business_day + timedelta(days=supplier.lead_time_days)
            window = datetime.combine(arrival_day, clock_time(max(store.opens_hour - 1, 0)), zone)
            expected_ms = round(window.timestamp() * 1000)
            arrival_ms = expected_ms + self._rng.randrange(DELIVERY_WINDOW_MS)
            lines = by_supplier[supplier_index]
            suffix = f"{self._rng.getrandbits(32):08x}"
            order_id = f"PO-{business_day:%Y%m%d}-{store.store_id}-{supplier.supplier_id}-{suffix}"
            ordered = [(line.product_index, line.quantity) for line in lines]
            fault, received = self._supplier_fault(ordered)
            if fault == LATE:
                arrival_ms += DAY_MS
                for product, _ in ordered:
                    inventory.expect_late(product, expected_ms)
            self.truth.orders.append(
                {
                    "order_id": order_id,
                    "store_id": store.store_id,
                    "supplier_id": supplier.supplier_id,
                    "ordered_at": iso_time(time_ms),
                    "expected_at": iso_time(expected_ms),
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
                expected_ms,
                [
                    (product, quantity, got)
                    for (product, quantity), got in zip(ordered, received, strict=True)
                ],
                fault,
            )
            self._push(arrival_ms, _DELIVERY, index, delivery)
            event_id = random_uuid(self._rng)
            document = envelope(event_id, PURCHASE_ORDER, time_ms, store.store_id) | {
                "order_id": order_id,
                "supplier_id": supplier.supplier_id,
                "ordered_at": iso_time(time_ms),
                "expected_at": iso_time(expected_ms),
                "lines": [
                    {"line_number": number, "sku": self._skus[product], "quantity": quantity}
                    for number, (product, quantity) in enumerate(ordered, start=1)
                ],
            }
            yield Event(-1, event_id, PURCHASE_ORDER, store.store_id, time_ms, encode(document))

    def _supplier_fault(self, ordered: list[tuple[int, int]]) -> tuple[str | None, list[int]]:
        """(fault or None, units the supplier will bring per line) for one order.

        A short delivery leaves 10-60 % of each line out but brings at least one unit, so a
        line of one unit cannot be short; an order of such lines is late instead.
        """
        quantities = [quantity for _, quantity in ordered]
        rng = self._fault_rng
        if rng.random() >= self.config.supplier_fault_share:
            return None, quantities
        if rng.random() < 0.5:
            short = [
                quantity - min(quantity - 1, max(1, round(quantity * rng.uniform(*SHORT_MISSING))))
                if quantity > 1
                else quantity
                for quantity in quantities
            ]
            if short != quantities:
                return SHORT, short
        return LATE, quantities

    def _delivery(self, index: int, time_ms: int, order: tuple) -> Event:
        order_id, supplier_id, ordered_ms, expected_ms, lines, fault = order
        self.inventories[index].receive(lines, time_ms, late=fault == LATE)
        store_id = self.catalog.stores[index].store_id
        if fault is not None:
            for product, quantity, received in lines:
                if fault == LATE or received < quantity:
                    self.truth.supplier_faults.append(
                        {
                            "order_id": order_id,
                            "store_id": store_id,
                            "sku": self._skus[product],
                            "kind": fault,
                            "ordered": quantity,
                            "received": received,
                            "expected_at": iso_time(expected_ms),
                            "received_at": iso_time(time_ms),
                        }
                    )
        event_id = random_uuid(self._rng)
        document = envelope(event_id, DELIVERY, time_ms, store_id) | {
            "order_id": order_id,
            "supplier_id": supplier_id,
            "ordered_at": iso_time(ordered_ms),
            "lines": [
                {"line_number": number, "sku": self._skus[product], "quantity": received}
                for number, (product, _, received) in enumerate(lines, start=1)
            ],
        }
        return Event(-1, event_id, DELIVERY, store_id, time_ms, encode(document))

    def _cycle_count(self, index: int, time_ms: int) -> Iterator[Event]:
        """After closing, one category per store per day, rotating: shrinkage shows up here."""
        category = (time_ms // DAY_MS + index) % len(CATEGORIES)
        lines = self.inventories[index].count(self._by_category[category], time_ms, self._rng)
        self._close_day(index, time_ms)
        return self._count_events(index, time_ms, "cycle", CATEGORIES[category].name, lines)

    def _close_day(self, index: int, time_ms: int) -> None:
        """The store's day is over (review and count done): its daily truth rows, in backfill."""
        inventory = self.inventories[index]
        wanted, sold = inventory.close_day()
        store = self.catalog.stores[index]
        day = (datetime.fromtimestamp(time_ms / 1000, self._zones[index]) - timedelta(hours=1)).date()
        first = self._first_full_day[index]
        if self.config.mode != BACKFILL or first < 0 or day.toordinal() < first:
            return
        plan = self.demand.week(model.monday_of(day))
        self.truth.daily.append(
            DayBlock(
                store_id=store.store_id,
                day=day.isoformat(),
                expected_units=self.demand.expected_baskets(store, day.weekday()) * self._units_per_basket,
                shares=plan.shares[index],
                promotion_ids=self._promotion_ids(plan),
                wanted=array("i", wanted),
                sold=array("i", sold),
                closing_on_hand=array("i", inventory.on_hand),
                on_order=array("i", inventory.on_order),
            )
        )

    def _promotion_ids(self, plan: model.WeekPlan) -> dict[int, str]:
        """Catalog index -> promotion id of a week, built once per week and shared by its rows."""
        if self._promotion_ids_of[0] != plan.monday:
            ids = {index: promotion.promotion_id for index, promotion in plan.by_product.items()}
            self._promotion_ids_of = (plan.monday, ids)
        return self._promotion_ids_of[1]

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
