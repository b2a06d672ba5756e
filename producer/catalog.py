"""Stores, categories and products generated from a seed.

Faker supplies the human-looking names (cities, managers, brands, suppliers); everything
numeric comes from a seeded `random.Random`. Faker is used only here, once per run, because it
is far too slow for the per-basket loop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

from producer.events import money

# Region -> (time zone, states). Stores live in the continental US so local opening hours,
# and with them the hour-of-day demand curve, shift with the time zone.
REGIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "northeast": ("America/New_York", ("NY", "MA", "PA", "NJ", "CT")),
    "southeast": ("America/New_York", ("FL", "GA", "NC", "SC", "VA")),
    "midwest": ("America/Chicago", ("IL", "OH", "MI", "WI", "MN")),
    "mountain": ("America/Denver", ("CO", "UT", "NM", "ID", "MT")),
    "west": ("America/Los_Angeles", ("CA", "OR", "WA", "NV")),
}

STORE_SIZES = ("small", "medium", "large")
_SIZE_WEIGHTS = (0.3, 0.5, 0.2)
_SIZE_SQUARE_METERS = {"small": (300, 800), "medium": (800, 2500), "large": (2500, 6000)}
_STORE_SUFFIXES = ("Market", "Grocer", "Fresh", "Corner", "Superstore", "Pantry")


@dataclass(frozen=True)
class CategorySpec:
    """What a category looks like: price band in cents, gross margin, supplier lead time, nouns."""

    name: str
    price_cents: tuple[int, int]
    margin: tuple[float, float]
    lead_time_days: int
    share: float
    nouns: tuple[str, ...]


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("produce", (79, 699), (0.25, 0.45), 1, 0.12, ("Apples", "Bananas", "Tomatoes", "Spinach")),
    CategorySpec("dairy", (99, 899), (0.20, 0.35), 2, 0.10, ("Milk", "Yogurt", "Cheddar", "Butter")),
    CategorySpec("bakery", (149, 799), (0.30, 0.50), 1, 0.07, ("Bagels", "Sourdough", "Muffins", "Rolls")),
    CategorySpec("meat", (399, 2499), (0.15, 0.30), 3, 0.08, ("Chicken Breast", "Ground Beef", "Sausages")),
    CategorySpec("frozen", (199, 1299), (0.25, 0.40), 4, 0.09, ("Pizza", "Peas", "Ice Cream", "Dumplings")),
    CategorySpec(
        "beverages", (89, 1999), (0.25, 0.45), 3, 0.13, ("Cola", "Sparkling Water", "Coffee", "Juice")
    ),
    CategorySpec(
        "snacks", (99, 699), (0.30, 0.50), 4, 0.13, ("Chips", "Pretzels", "Crackers", "Granola Bars")
    ),
    CategorySpec("pantry", (99, 1199), (0.25, 0.40), 5, 0.14, ("Pasta", "Rice", "Olive Oil", "Cereal")),
    CategorySpec("household", (199, 2499), (0.30, 0.45), 6, 0.08, ("Detergent", "Paper Towels", "Sponges")),
    CategorySpec("personal_care", (199, 1899), (0.35, 0.55), 6, 0.06, ("Shampoo", "Toothpaste", "Soap")),
)

_ADJECTIVES = ("Organic", "Classic", "Family Size", "Lite", "Premium", "Everyday", "Original", "Zesty")
_PACK_SIZES = ("250 g", "500 g", "1 kg", "330 ml", "1 l", "6 pack", "12 pack", "2 ct", "family pack")


@dataclass(frozen=True)
class Store:
    store_id: str
    name: str
    region: str
    city: str
    state: str
    manager: str
    timezone: str
    size: str
    square_meters: int
    opens_hour: int
    closes_hour: int

    def snapshot(self) -> dict:
        """Fields of the `store` reference event after the envelope."""
        return {
            "name": self.name,
            "region": self.region,
            "city": self.city,
            "state": self.state,
            "manager": self.manager,
            "timezone": self.timezone,
            "size": self.size,
            "square_meters": self.square_meters,
            "opens_at": f"{self.opens_hour:02d}:00",
            "closes_at": f"{self.closes_hour:02d}:00",
        }


@dataclass(frozen=True)
class Supplier:
    supplier_id: str
    name: str
    category: str
    lead_time_days: int


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    brand: str
    ean: str
    unit_cost_cents: int
    price_cents: int
    supplier_id: str
    lead_time_days: int

    def snapshot(self) -> dict:
        """Fields of the `product` reference event after the envelope."""
        return {
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "brand": self.brand,
            "ean": self.ean,
            "unit_cost": money(self.unit_cost_cents),
            "price": money(self.price_cents),
            "supplier_id": self.supplier_id,
            "lead_time_days": self.lead_time_days,
        }


@dataclass(frozen=True)
class Catalog:
    stores: tuple[Store, ...]
    products: tuple[Product, ...]
    suppliers: tuple[Supplier, ...]

    def sku_set(self) -> frozenset[str]:
        return frozenset(product.sku for product in self.products)


def build_catalog(seed: int, stores: int, products: int) -> Catalog:
    """The chain's stores, suppliers (one per category) and products, reproducible from `seed`."""
    if stores < 1 or products < len(CATEGORIES):
        raise ValueError(f"need at least 1 store and {len(CATEGORIES)} products (one per category)")
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(f"{seed}:catalog")

    suppliers = tuple(
        Supplier(
            supplier_id=f"SUP-{index + 1:02d}",
            name=fake.company(),
            category=spec.name,
            lead_time_days=spec.lead_time_days,
        )
        for index, spec in enumerate(CATEGORIES)
    )
    return Catalog(
        stores=tuple(_store(index, fake, rng) for index in range(stores)),
        products=_products(products, suppliers, fake, rng),
        suppliers=suppliers,
    )


def _store(index: int, fake: Faker, rng: random.Random) -> Store:
    region = rng.choice(sorted(REGIONS))
    timezone, states = REGIONS[region]
    size = rng.choices(STORE_SIZES, weights=_SIZE_WEIGHTS)[0]
    low, high = _SIZE_SQUARE_METERS[size]
    city = fake.city()
    opens = rng.choice((7, 8, 8, 9))
    return Store(
        store_id=f"S{index + 1:03d}",
        name=f"{city} {rng.choice(_STORE_SUFFIXES)}",
        region=region,
        city=city,
        state=rng.choice(states),
        manager=fake.name(),
        timezone=timezone,
        size=size,
        square_meters=rng.randint(low, high),
        opens_hour=opens,
        closes_hour=opens + rng.choice((13, 14, 15)),
    )


def _products(
    count: int, suppliers: tuple[Supplier, ...], fake: Faker, rng: random.Random
) -> tuple[Product, ...]:
    # Every category gets at least one product, the rest follow the category shares.
    indexes = list(range(len(CATEGORIES)))
    indexes += rng.choices(indexes, weights=[spec.share for spec in CATEGORIES], k=count - len(CATEGORIES))
    indexes.sort()
    brands = {spec.name: [fake.last_name() for _ in range(4)] for spec in CATEGORIES}
    products = []
    for number, category_index in enumerate(indexes, start=1):
        spec = CATEGORIES[category_index]
        supplier = suppliers[category_index]
        brand = rng.choice(brands[spec.name])
        price = rng.randint(*spec.price_cents)
        cost = round(price * (1 - rng.uniform(*spec.margin)))
        products.append(
            Product(
                sku=f"SKU-{number:05d}",
                name=f"{brand} {rng.choice(_ADJECTIVES)} {rng.choice(spec.nouns)} {rng.choice(_PACK_SIZES)}",
                category=spec.name,
                brand=brand,
                ean=fake.ean13(),
                unit_cost_cents=max(1, cost),
                price_cents=price,
                supplier_id=supplier.supplier_id,
                lead_time_days=supplier.lead_time_days,
            )
        )
    return tuple(products)
