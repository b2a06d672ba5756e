"""The event types of the POS contract and their published JSON Schemas (draft 2020-12).

The producer writes events to these schemas and the pipeline reads them; both import the names
from here, so neither depends on the other's insides.
"""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_VERSION = 1

SALE = "sale"
DELIVERY = "delivery"
STOCK_COUNT = "stock_count"
STORE = "store"
PRODUCT = "product"
PURCHASE_ORDER = "purchase_order"
PROMOTION = "promotion"

EVENT_TYPES = (SALE, DELIVERY, STOCK_COUNT, STORE, PRODUCT, PURCHASE_ORDER, PROMOTION)
# What happens in the business, as opposed to reference snapshots: the events that bad input
# may corrupt, resend or delay.
BUSINESS_EVENT_TYPES = (SALE, DELIVERY, STOCK_COUNT, PURCHASE_ORDER, PROMOTION)
REFERENCE_EVENT_TYPES = (STORE, PRODUCT)

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def load_schema(event_type: str) -> dict:
    """The published JSON Schema of one event type, as a dict for jsonschema."""
    path = SCHEMA_DIR / f"{event_type}.json"
    if not path.exists():
        raise KeyError(f"no schema for {event_type!r}; known: {', '.join(EVENT_TYPES)}")
    return json.loads(path.read_text())
