"""How much shoppers buy, when, and what: traffic curves, popularity, promotions, basket shape.

Basket arrivals per store follow an hour-of-day curve (local time), a day-of-week factor, a
store-size base rate and a daily noise factor, drawn as Poisson counts. What a basket holds
follows a Zipf-like popularity per SKU, perturbed per store, lifted while the SKU is on
promotion. Replenishment forecasts use the same model without promotions, which is one of the
ways real stockouts happen.

Promotions are planned per week (Monday to Sunday, store-local business days) from the seed
alone, so the producer can announce a week's promotions before it starts and sales then use
exactly those: the same ids, SKUs, discount and days. `WeekPlan` holds one week's promotions
and the pick weights they give every store; `expected_units` is the simulator's mean demand of
a store-day, for the ground truth.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

from producer.catalog import Catalog, Store

# Relative basket arrivals by local hour; closed hours are skipped in backfill and floored in
# live mode (see LIVE_NIGHT_FLOOR), so a demo at night still streams.
HOUR_PROFILE: tuple[float, ...] = (
    0.10, 0.05, 0.05, 0.05, 0.05, 0.10, 0.30, 0.50,  # 00-07
    0.60, 0.70, 0.85, 1.00, 1.30, 1.20, 0.90, 0.90,  # 08-15
    1.10, 1.45, 1.50, 1.20, 0.90, 0.60, 0.40, 0.25,  # 16-23
)  # fmt: skip
LIVE_NIGHT_FLOOR = 0.2

# Monday first, as `datetime.weekday()` counts.
DAY_OF_WEEK: tuple[float, ...] = (0.90, 0.85, 0.90, 1.00, 1.20, 1.35, 1.05)

# Baskets per open hour at HOUR_PROFILE 1.0 and DAY_OF_WEEK 1.0, before `traffic_scale`.
BASKETS_PER_HOUR = {"small": 20.0, "medium": 40.0, "large": 70.0}

DAILY_NOISE_SIGMA = 0.10  # log-normal store-day factor: busy and quiet days
STORE_POPULARITY_SIGMA = 0.35  # how much a store's taste departs from the chain's

QUANTITIES = (1, 2, 3, 4, 6)
QUANTITY_WEIGHTS = (0.74, 0.17, 0.05, 0.03, 0.01)
MEAN_QUANTITY = sum(q * w for q, w in zip(QUANTITIES, QUANTITY_WEIGHTS, strict=True))

PAYMENT_METHODS = ("card", "mobile", "cash", "gift_card")
PAYMENT_WEIGHTS = (0.55, 0.25, 0.15, 0.05)

PROMOTION_DISCOUNTS = (10, 15, 20, 25, 30)  # percent off the shelf price
PROMOTION_ELASTICITY = 4.0  # demand lift = 1 + elasticity * discount: 20 % off sells 1.8x


# Week numbers (in promotion ids) count from the Monday before the Unix epoch.
EPOCH_MONDAY = date(1969, 12, 29)
PLANS_KEPT = 4  # week plans cached: stores in different time zones straddle two weeks at most


@dataclass(frozen=True)
class Promotion:
    """A chain-wide promotion: one discount on several SKUs for one week."""

    promotion_id: str
    discount_percent: int
    lift: float
    products: tuple[int, ...]  # catalog indexes of its SKUs
    first_day: date
    last_day: date


@dataclass(frozen=True)
class WeekPlan:
    """One promotion week: its promotions and what shoppers of each store pick while they run."""

    monday: date
    promotions: tuple[Promotion, ...]
    by_product: dict[int, Promotion]
    cum_weights: list[list[float]]  # per store, for random.choices
    shares: list[list[float]]  # per store: the probability that one pick is each SKU


def monday_of(day: date) -> date:
    """The Monday starting the promotion week of a store-local business day."""
    return day - timedelta(days=day.weekday())


def week_number(monday: date) -> int:
    return (monday - EPOCH_MONDAY).days // 7


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: exact (Knuth) for small means, normal approximation above 30."""
    if mean <= 0:
        return 0
    if mean < 30:
        limit = math.exp(-mean)
        count, product = 0, rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
        return count
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


class DemandModel:
    """Traffic and basket composition for every store, reproducible from the seed."""

    def __init__(
        self,
        catalog: Catalog,
        seed: int,
        *,
        zipf_exponent: float,
        promo_share: float,
        traffic_scale: float,
        mean_basket_lines: float,
    ) -> None:
        self.catalog = catalog
        self.seed = seed
        self.promo_share = promo_share
        self.traffic_scale = traffic_scale
        self.mean_basket_lines = mean_basket_lines
        rng = random.Random(f"{seed}:popularity")
        count = len(catalog.products)
        ranks = list(range(1, count + 1))
        rng.shuffle(ranks)
        chain = [rank**-zipf_exponent for rank in ranks]
        # Each store's taste: the chain's popularity times a log-normal factor per SKU.
        self.store_weights: list[list[float]] = [
            [weight * rng.lognormvariate(0.0, STORE_POPULARITY_SIGMA) for weight in chain]
            for _ in catalog.stores
        ]
        self._promotions: dict[date, tuple[Promotion, ...]] = {}
        self._plans: dict[date, WeekPlan] = {}

    def promotions(self, monday: date) -> tuple[Promotion, ...]:
        """The week's promotions, from the seed alone: what is announced is what runs.

        `promo_share` of the catalog is drawn each week, each SKU with a discount; SKUs with the
        same discount form one promotion.
        """
        found = self._promotions.get(monday)
        if found is not None:
            return found
        week = week_number(monday)
        rng = random.Random(f"{self.seed}:promotions:{week}")
        count = len(self.catalog.products)
        chosen = sorted(rng.sample(range(count), round(self.promo_share * count)))
        by_discount: dict[int, list[int]] = {}
        for index in chosen:
            by_discount.setdefault(rng.choice(PROMOTION_DISCOUNTS), []).append(index)
        found = tuple(
            Promotion(
                promotion_id=f"PR-{week:05d}-{number:02d}",
                discount_percent=discount,
                lift=1.0 + PROMOTION_ELASTICITY * discount / 100,
                products=tuple(by_discount[discount]),
                first_day=monday,
                last_day=monday + timedelta(days=6),
            )
            for number, discount in enumerate(sorted(by_discount), start=1)
        )
        self._promotions[monday] = found
        return found

    def week(self, monday: date) -> WeekPlan:
        """The pick weights of every store during one promotion week (cached for a few weeks)."""
        plan = self._plans.get(monday)
        if plan is not None:
            return plan
        promotions = self.promotions(monday)
        by_product = {index: promotion for promotion in promotions for index in promotion.products}
        cum_weights, shares = [], []
        for weights in self.store_weights:
            lifted = list(weights)
            for index, promotion in by_product.items():
                lifted[index] *= promotion.lift
            total = sum(lifted)
            cum_weights.append(list(itertools.accumulate(lifted)))
            shares.append([weight / total for weight in lifted])
        plan = WeekPlan(monday, promotions, by_product, cum_weights, shares)
        if len(self._plans) >= PLANS_KEPT:
            del self._plans[min(self._plans)]
        self._plans[monday] = plan
        return plan

    def baskets_per_hour(self, store: Store, local_hour: int, weekday: int, day_factor: float) -> float:
        """Expected baskets in one open hour of a store."""
        return (
            BASKETS_PER_HOUR[store.size]
            * self.traffic_scale
            * HOUR_PROFILE[local_hour]
            * DAY_OF_WEEK[weekday]
            * day_factor
        )

    def expected_daily_units(self, store_index: int) -> list[float]:
        """Units per day of each SKU at a store without promotions: the replenishment forecast."""
        store = self.catalog.stores[store_index]
        open_hours = [hour % 24 for hour in range(store.opens_hour, store.closes_hour)]
        baskets = (
            BASKETS_PER_HOUR[store.size]
            * self.traffic_scale
            * sum(HOUR_PROFILE[hour] for hour in open_hours)
            * sum(DAY_OF_WEEK)
            / 7
        )
        units = baskets * self.mean_basket_lines * MEAN_QUANTITY
        weights = self.store_weights[store_index]
        total = sum(weights)
        return [units * weight / total for weight in weights]

    def expected_baskets(self, store: Store, weekday: int) -> float:
        """Mean baskets of a whole business day: the open hours' rates times E[daily noise]."""
        open_hours = [hour % 24 for hour in range(store.opens_hour, store.closes_hour)]
        noise_mean = math.exp(DAILY_NOISE_SIGMA**2 / 2)  # mean of the log-normal day factor
        return sum(self.baskets_per_hour(store, hour, weekday, noise_mean) for hour in open_hours)

    def units_per_basket(self) -> float:
        """Mean units a basket asks for: picks (1 + geometric extras) times mean quantity."""
        return self.mean_basket_lines * MEAN_QUANTITY

    def live_store_weight(self, store: Store, local_hour: int) -> float:
        """A store's share of the live basket rate at a local hour (closed hours floored)."""
        factor = HOUR_PROFILE[local_hour] if is_open(store, local_hour) else 0.0
        return BASKETS_PER_HOUR[store.size] * max(factor, LIVE_NIGHT_FLOOR)

    def extra_lines_probability(self) -> float:
        """Parameter of the geometric number of lines beyond the first in a basket."""
        extra = self.mean_basket_lines - 1.0
        return 1.0 / (1.0 + extra)


def is_open(store: Store, local_hour: int) -> bool:
    """Whether a store trades during a local hour; closing hours may run past midnight."""
    return store.opens_hour <= local_hour < store.closes_hour or local_hour < store.closes_hour - 24
