"""POS producer: a deterministic store simulator that streams its events to Kinesis.

It is the project's only data source and the ground truth its alerts are judged against.

Library use (the CLI, the Mage pipeline and the end-to-end tests all go through this):

    from producer import KinesisSink, Simulation, SimulationConfig
    simulation = Simulation(SimulationConfig(seed=7, days=2, bad_rate=0.02))
    summary = KinesisSink(settings).send(simulation)   # DeliverySummary: sent, retried, failed
    simulation.truth.write("truth.json")                # stockouts, orders, injected bad events

Event contract, schema_version 1 (JSON Schemas in `producer/schemas/<event_type>.json`):

- Every payload is one compact ASCII JSON object with the envelope first:
  `event_id` (UUID v4 string, the dedup key), `event_type`, `schema_version` (integer 1),
  `event_time` (UTC ISO-8601 with milliseconds and `Z`, on the simulated clock) and
  `store_id` (`S001`...; null only on `product` events, which are chain-wide).
- Money is a decimal string with exactly two decimals (`"3.49"`): exact, no float
  rounding; read it as DECIMAL(12,2). Quantities are integers.
- `sale`: one basket. `basket_id`, `payment_method` (card, mobile, cash, gift_card),
  `loyalty_id` (`L` + 8 digits, or null), `lines`: [{`line_number`, `sku`, `quantity` >= 1,
  `unit_price` (shelf price of one unit), `discount` (total off the line), `promotion_id`
  or null}]. Line net = quantity * unit_price - discount. A sale never exceeds stock.
- `delivery`: one purchase order received in full. `order_id`, `supplier_id`, `ordered_at`,
  `lines`: [{`line_number`, `sku`, `quantity` >= 1}]. Adds to on-hand.
- `stock_count`: `count_id`, `count_type` (`full` once per store at the start of a run, the
  opening balance; `cycle`, one category per store after closing), `category` (null when
  full), `lines`: [{`line_number`, `sku`, `counted_quantity` >= 0}]. Replaces book stock;
  the gap is shrinkage. Long counts are split into events of at most 1,000 lines.
- `store` and `product`: reference snapshots (latest wins), at the start of a run and every
  day at 00:00 UTC, so downstream never needs this package's code.

Kinesis: partition key `store_id` (product snapshots use `catalog`). With aggregation (the
default) one record carries many events of one partition key in the envelope documented in
`producer.aggregation`: `POSAGG/1 <count> <raw|zlib>\\n<payloads joined by \\n>`, undone by
`producer.aggregation.deaggregate(data) -> list[bytes]`, which yields every event's raw
bytes, malformed ones included. Consumers deduplicate by `event_id` and order by
`event_time`: retries and `late_event` injection can reorder, `duplicate_event_id` repeats.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names load on first use, so a consumer importing only `producer.aggregation` does not pay
# for boto3 and Faker.
_EXPORTS = {
    "deaggregate": "producer.aggregation",
    "Event": "producer.events",
    "load_schema": "producer.events",
    "DeliveryError": "producer.kinesis",
    "DeliverySummary": "producer.kinesis",
    "KinesisSink": "producer.kinesis",
    "NdjsonSink": "producer.ndjson",
    "Simulation": "producer.simulation",
    "SimulationConfig": "producer.simulation",
    "simulate": "producer.simulation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'producer' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
