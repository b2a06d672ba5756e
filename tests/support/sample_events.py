"""Events in the producer's contract and bronze objects holding them, built in a few lines.

Tests and the silver benchmark build their input here rather than through the producer: they
need exact control over each event (one bad field, a duplicate, a late time) and, for the
benchmark, millions of sale lines fast. Field names follow schemas.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingestion.bronze_format import BronzeEvent, encode_object, iso_utc, object_key

STREAM = "pos-events"
SHARD = "shardId-000000000000"
T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def envelope(event_type: str, when: datetime, store_id: str | None, event_id: str | None = None) -> dict:
    return {
        "event_id": event_id or new_id(),
        "event_type": event_type,
        "schema_version": 1,
        "event_time": iso_utc(when),
        "store_id": store_id,
    }


# The builders take their identifying arguments positionally only, so that `changes` can
# override any field of the event (store_id, lines, ...) to make a bad one.


def store_event(store_id: str, /, when: datetime = T0, **changes: object) -> dict:
    return {
        **envelope("store", when, store_id),
        "name": f"{store_id} Market",
        "region": "west",
        "city": "Springfield",
        "state": "OR",
        "manager": "Pat Doe",
        "timezone": "America/Los_Angeles",
        "size": "medium",
        "square_meters": 1200,
        "opens_at": "08:00",
        "closes_at": "21:00",
        **changes,
    }


def product_event(sku: str, /, price: str = "2.50", when: datetime = T0, **changes: object) -> dict:
    return {
        **envelope("product", when, None),
        "sku": sku,
        "name": f"Product {sku}",
        "category": "pantry",
        "brand": "Acme",
        "ean": "4006381333931",
        "unit_cost": "1.20",
        "price": price,
        "supplier_id": "SUP-01",
        "lead_time_days": 3,
        **changes,
    }


def sale_line(
    line_number: int, sku: str, quantity: int = 1, unit_price: str = "2.50", discount: str = "0.00"
) -> dict:
    return {
        "line_number": line_number,
        "sku": sku,
        "quantity": quantity,
        "unit_price": unit_price,
        "discount": discount,
        "promotion_id": None,
    }


def sale_event(store_id: str, lines: Sequence[dict], /, when: datetime = T0, **changes: object) -> dict:
    return {
        **envelope("sale", when, store_id),
        "basket_id": new_id(),
        "lines": list(lines),
        "payment_method": "card",
        "loyalty_id": None,
        **changes,
    }


def delivery_event(
    store_id: str, lines: Sequence[tuple[str, int]], /, when: datetime = T0, **changes: object
) -> dict:
    return {
        **envelope("delivery", when, store_id),
        "order_id": f"PO-{new_id()[:8]}",
        "supplier_id": "SUP-01",
        "ordered_at": iso_utc(when - timedelta(days=2)),
        "lines": [
            {"line_number": number, "sku": sku, "quantity": quantity}
            for number, (sku, quantity) in enumerate(lines, start=1)
        ],
        **changes,
    }


def purchase_order_event(
    store_id: str, lines: Sequence[tuple[str, int]], /, when: datetime = T0, **changes: object
) -> dict:
    """An order placed at `when`, expected two days later (the delivery comes with its order_id)."""
    return {
        **envelope("purchase_order", when, store_id),
        "order_id": f"PO-{new_id()[:8]}",
        "supplier_id": "SUP-01",
        "ordered_at": iso_utc(when),
        "expected_at": iso_utc(when + timedelta(days=2)),
        "lines": [
            {"line_number": number, "sku": sku, "quantity": quantity}
            for number, (sku, quantity) in enumerate(lines, start=1)
        ],
        **changes,
    }


def promotion_event(
    promotion_id: str, skus: Sequence[str], /, when: datetime = T0, **changes: object
) -> dict:
    """A chain-wide promotion announced at `when`, 20 % off for the week starting 7 days later."""
    first = (when + timedelta(days=7)).date()
    return {
        **envelope("promotion", when, None),
        "promotion_id": promotion_id,
        "store_ids": None,
        "skus": list(skus),
        "discount_percent": 20,
        "first_day": first.isoformat(),
        "last_day": (first + timedelta(days=6)).isoformat(),
        **changes,
    }


def stock_count_event(
    store_id: str, lines: Sequence[tuple[str, int]], /, when: datetime = T0, **changes: object
) -> dict:
    return {
        **envelope("stock_count", when, store_id),
        "count_id": f"C-{new_id()[:8]}",
        "count_type": "cycle",
        "category": "pantry",
        "lines": [
            {"line_number": number, "sku": sku, "counted_quantity": counted}
            for number, (sku, counted) in enumerate(lines, start=1)
        ],
        **changes,
    }


def payload(event: dict | bytes | str) -> bytes:
    """An event as the producer sends it: compact JSON bytes (bytes and text pass unchanged)."""
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode("utf-8")
    return json.dumps(event, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class BronzeObject:
    key: str
    body: bytes
    lines: int


def bronze_object(
    events: Iterable[dict | bytes | str],
    first_sequence: int = 1,
    arrival: datetime = T0 + timedelta(minutes=1),
    stream: str = STREAM,
    shard_id: str = SHARD,
) -> BronzeObject:
    """One bronze object, as ingestion writes it, of these events in order (one line each)."""
    bronze_events = [
        BronzeEvent(stream, shard_id, f"{first_sequence + offset:056d}", 0, "S001", arrival, payload(event))
        for offset, event in enumerate(events)
    ]
    last = first_sequence + len(bronze_events) - 1
    ingested_at = arrival + timedelta(seconds=2)
    key = object_key(stream, shard_id, f"{first_sequence:056d}", f"{last:056d}", ingested_at)
    return BronzeObject(key, encode_object(bronze_events, ingested_at), len(bronze_events))
