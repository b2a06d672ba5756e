"""The wire contract between the producer and the pipeline: event payloads and Kinesis records.

Both sides import it from here, below either of them.

Event contract, schema_version 1 (JSON Schemas in `lakehouse/contracts/schemas/<event_type>.json`, loaded by
`lakehouse.contracts.events.load_schema`):

- Every payload is one compact ASCII JSON object with the envelope first:
  `event_id` (UUID v4 string, the dedup key), `event_type`, `schema_version` (integer 1),
  `event_time` (UTC ISO-8601 with milliseconds and `Z`, on the simulated clock) and
  `store_id` (`S001`...; null only on `product` and chain-wide `promotion` events).
- Money is a decimal string with exactly two decimals (`"3.49"`): exact, no float
  rounding; read it as DECIMAL(12,2). Quantities are integers.
- `sale`: one basket. `basket_id`, `payment_method` (card, mobile, cash, gift_card),
  `loyalty_id` (`L` + 8 digits, or null), `lines`: [{`line_number`, `sku`, `quantity` >= 1,
  `unit_price` (shelf price of one unit), `discount` (total off the line), `promotion_id`
  or null}]. Line net = quantity * unit_price - discount. A sale never exceeds stock.
- `purchase_order`: one order placed at a store's closing-time review, one supplier.
  `order_id`, `supplier_id`, `ordered_at` (= event_time), `expected_at` (the start of the
  delivery window on the morning the lead time brings it, before opening), `lines`:
  [{`line_number`, `sku`, `quantity` >= 1}]. Ordered and not yet received is on order.
- `delivery`: one purchase order received, with its `order_id`, `supplier_id`, `ordered_at`,
  `lines`: [{`line_number`, `sku`, `quantity` >= 1}]. Adds to on-hand and closes the order:
  a line may come short and the delivery a day late (supplier faults); the rest never comes.
- `stock_count`: `count_id`, `count_type` (`full` once per store at the start of a run, the
  opening balance; `cycle`, one category per store after closing), `category` (null when
  full), `lines`: [{`line_number`, `sku`, `counted_quantity` >= 0}]. Replaces book stock;
  the gap is shrinkage. Long counts are split into events of at most 1,000 lines.
- `store` and `product`: reference snapshots (latest wins), at the start of a run and every
  day at 00:00 UTC, so downstream never needs the producer's code.
- `promotion`: announced at least the notice (7 days by default) before it starts, at 00:00
  UTC. `promotion_id` (announced once), `store_ids` (null: chain-wide, and then `store_id` is
  null too), `skus` (>= 1, distinct), `discount_percent` (1..90), `first_day` and `last_day`
  (store-local business days, `YYYY-MM-DD`, last >= first). Sale lines of those SKUs on those
  days carry its `promotion_id`. Promotions running or upcoming when a run starts are sent
  at its opening with their earlier announcement time, the one exception to time order.

Kinesis: partition key `store_id` (product snapshots and chain-wide promotions use `catalog`).
With aggregation (the default) one record carries many events of one partition key in the
envelope documented in `lakehouse.contracts.envelope`:
`POSAGG/1 <count> <raw|zlib>\\n<payloads joined by \\n>`, undone by
`lakehouse.contracts.envelope.deaggregate(data) -> list[bytes]`, which yields every event's raw
bytes, malformed ones included. Consumers deduplicate by `event_id` and order by
`event_time`: retries and `late_event` injection can reorder, `duplicate_event_id` repeats.
"""
