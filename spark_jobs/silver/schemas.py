"""Explicit schemas of every event type and schema version: the one place that knows field names.

Each field is declared once, with what silver checks about it, in its StructField metadata:

- `required`: absent, null, blank or an empty list is `missing_field` (optional fields may be null);
- `format`: how the JSON value is read: `uuid`, `string` (trimmed), `timestamp` (ISO-8601 with a
  zone, normalised to UTC), `money` (a decimal with at most two places, read as text so that
  "12.30" is never a float), `date` (`YYYY-MM-DD`), `string_list` (a list of trimmed strings,
  none blank); fields without a format are parsed with their Spark type, which Spark's JSON
  reader enforces strictly (a quoted "2" is not an integer);
- `minimum` and `minimum_reason`: the smallest allowed value and the reason code below it;
  `maximum` (with `maximum_reason`, by default the same code) the largest, a decimal as text;
- `references`: `store` or `product`, checked against the reference tables (for a string list,
  each of its values).

Rules that compare fields of one event (an order expected before it was placed) are declared
with the schema as `Rule`s.

Parsing reads only the declared fields, so unknown extra fields are ignored. Silver table
columns are derived from these declarations (tables.py), so aligning with the producer's
published JSON Schemas is a change here only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from spark_jobs.silver import reasons

UUID = "uuid"
STRING = "string"
TIMESTAMP = "timestamp"
MONEY = "money"
DATE = "date"
STRING_LIST = "string_list"
FORMATS = (UUID, STRING, TIMESTAMP, MONEY, DATE, STRING_LIST)

MONEY_TYPE = DecimalType(12, 2)

# Limits that keep every accepted line loadable into gold (sql/gold/migrations): silver must be at
# least as strict as gold, or one line gold refuses fails every later load (issue 16).
# tests/integration/test_silver_gold_limits.py reads the migrations and holds these to them.
LINE_NUMBER_MAX = 32_767  # fact_sales.line_number is a smallint, checked >= 1
# Per unit: so that the largest sale line's cost (quantity x unit_cost, numeric(14, 2)) fits.
MONEY_MAX = "99999999.99"
# A sale line's quantity x unit_price is silver's net_amount, decimal(12, 2).
LINE_VALUE_MAX = "9999999999.99"
SALE_QUANTITY_MAX = 10_000  # x MONEY_MAX stays below numeric(14, 2)'s 10^12
# Deliveries, orders and counts: a store-SKU-day's sums stay far inside gold's integer columns.
QUANTITY_MAX = 1_000_000
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)  # older times are clock resets or default dates
STORE = "store"
PRODUCT = "product"

# The column from_json fills with the raw text of a record it could not read into the schema.
CORRUPT_COLUMN = "_corrupt_record"


def field(
    name: str,
    kind: str | DataType,
    *,
    required: bool = True,
    minimum: int | None = None,
    minimum_reason: str | None = None,
    maximum: int | str | None = None,
    maximum_reason: str | None = None,
    references: str | None = None,
) -> StructField:
    """One declared field; `kind` is a format name (see FORMATS) or a Spark type."""
    metadata: dict[str, object] = {"required": required}
    if isinstance(kind, str):
        if kind not in FORMATS:
            raise ValueError(f"unknown format {kind!r} for {name}; use one of {', '.join(FORMATS)}")
        metadata["format"] = kind
        parse_type: DataType = ArrayType(StringType()) if kind == STRING_LIST else StringType()
    else:
        parse_type = kind
    if kind == MONEY:
        minimum, minimum_reason = 0, reasons.NEGATIVE_PRICE
        maximum, maximum_reason = MONEY_MAX, reasons.AMOUNT_OUT_OF_RANGE
    if minimum is not None:
        metadata["minimum"] = minimum
        metadata["minimum_reason"] = minimum_reason or reasons.OUT_OF_RANGE
    if maximum is not None:
        metadata["maximum"] = maximum
        metadata["maximum_reason"] = maximum_reason or minimum_reason or reasons.OUT_OF_RANGE
    if references is not None:
        metadata["references"] = references
    return StructField(name, parse_type, nullable=not required, metadata=metadata)


def lines(*line_fields: StructField, name: str = "lines") -> StructField:
    """The required, non-empty list of an event's lines (basket lines, delivered or counted SKUs)."""
    return StructField(
        name, ArrayType(StructType(list(line_fields))), nullable=False, metadata={"required": True}
    )


def envelope(store_required: bool = True, store_references: str | None = STORE) -> list[StructField]:
    """The fields every event starts with; product snapshots belong to no store (store_id null)."""
    return [
        field("event_id", UUID),
        field("event_type", STRING),
        field("schema_version", IntegerType()),
        field("event_time", TIMESTAMP),
        field("store_id", STRING, required=store_required, references=store_references),
    ]


@dataclass(frozen=True)
class Rule:
    """A check across fields of one event: `fails(event struct)` true means the reason applies."""

    reason: str
    fails: Callable[[Column], Column]
    detail: str


@dataclass(frozen=True)
class EventSchema:
    """The schema of one (event type, schema version) and the silver table it feeds."""

    event_type: str
    version: int
    struct: StructType
    table: str
    rules: tuple[Rule, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.event_type}_v{self.version}"

    @property
    def line_field(self) -> StructField | None:
        """The array of lines (structs), exploded to one silver row per line; None if it has none."""
        found = [
            f
            for f in self.struct.fields
            if isinstance(f.dataType, ArrayType) and isinstance(f.dataType.elementType, StructType)
        ]
        return found[0] if found else None

    @property
    def parse_struct(self) -> StructType:
        """What from_json reads: the declared fields plus the corrupt-record column."""
        return StructType([*self.struct.fields, StructField(CORRUPT_COLUMN, StringType())])


def _positive_quantity(maximum: int = QUANTITY_MAX) -> StructField:
    return field(
        "quantity",
        IntegerType(),
        minimum=1,
        minimum_reason=reasons.NON_POSITIVE_QUANTITY,
        maximum=maximum,
        maximum_reason=reasons.QUANTITY_OUT_OF_RANGE,
    )


def _line_number() -> StructField:
    return field(
        "line_number",
        IntegerType(),
        minimum=1,
        maximum=LINE_NUMBER_MAX,
        minimum_reason=reasons.LINE_NUMBER_OUT_OF_RANGE,
    )


def _line_value(line: Column) -> Column:
    return line["quantity"] * line["unit_price"]


def _discount_above_value(line: Column) -> Column:
    return line["discount"] > _line_value(line)


def _value_too_large(line: Column) -> Column:
    return _line_value(line) > F.lit(Decimal(LINE_VALUE_MAX))


# Aligned with lakehouse/contracts/schemas/<event_type>.json (schema_version 1): same names, same required
# fields. Formats are read a little more widely than the producer writes them (any UTC offset,
# one or two decimals, negative money so that it is reported as negative_price).
SALE_V1 = EventSchema(
    "sale",
    1,
    StructType(
        [
            *envelope(),
            field("basket_id", UUID),
            field("payment_method", STRING),
            field("loyalty_id", STRING, required=False),
            lines(
                _line_number(),
                field("sku", STRING, references=PRODUCT),
                _positive_quantity(SALE_QUANTITY_MAX),
                field("unit_price", MONEY),
                field("discount", MONEY),
                field("promotion_id", STRING, required=False),
            ),
        ]
    ),
    table="sales_lines",
    rules=(
        Rule(
            reasons.AMOUNT_OUT_OF_RANGE,
            lambda event: F.exists(event["lines"], _value_too_large),
            f"lines[].quantity x unit_price > {LINE_VALUE_MAX}",
        ),
        Rule(
            reasons.DISCOUNT_ABOVE_LINE_VALUE,
            lambda event: F.exists(event["lines"], _discount_above_value),
            "lines[].discount > quantity x unit_price",
        ),
    ),
)

DELIVERY_V1 = EventSchema(
    "delivery",
    1,
    StructType(
        [
            *envelope(),
            field("order_id", STRING),
            field("supplier_id", STRING),
            field("ordered_at", TIMESTAMP),
            lines(
                _line_number(),
                field("sku", STRING, references=PRODUCT),
                _positive_quantity(),
            ),
        ]
    ),
    table="deliveries",
)

STOCK_COUNT_V1 = EventSchema(
    "stock_count",
    1,
    StructType(
        [
            *envelope(),
            field("count_id", STRING),
            field("count_type", STRING),
            field("category", STRING, required=False),
            lines(
                _line_number(),
                field("sku", STRING, references=PRODUCT),
                field(
                    "counted_quantity",
                    IntegerType(),
                    minimum=0,
                    minimum_reason=reasons.NEGATIVE_QUANTITY,
                    maximum=QUANTITY_MAX,
                    maximum_reason=reasons.QUANTITY_OUT_OF_RANGE,
                ),
            ),
        ]
    ),
    table="stock_counts",
)

PURCHASE_ORDER_V1 = EventSchema(
    "purchase_order",
    1,
    StructType(
        [
            *envelope(),
            field("order_id", STRING),
            field("supplier_id", STRING),
            field("ordered_at", TIMESTAMP),
            field("expected_at", TIMESTAMP),
            lines(
                _line_number(),
                field("sku", STRING, references=PRODUCT),
                _positive_quantity(),
            ),
        ]
    ),
    table="purchase_orders",
    rules=(
        Rule(
            reasons.EXPECTED_BEFORE_ORDERED,
            lambda event: event["expected_at"] < event["ordered_at"],
            "expected_at < ordered_at",
        ),
    ),
)

# Chain-wide promotions have no store: store_id and store_ids are null. A promotion's SKUs are
# its lines (one silver row each), so a repeated SKU is a repeated line key.
PROMOTION_V1 = EventSchema(
    "promotion",
    1,
    StructType(
        [
            *envelope(store_required=False, store_references=None),
            field("promotion_id", STRING),
            field("store_ids", STRING_LIST, required=False, references=STORE),
            field("skus", STRING_LIST, references=PRODUCT),
            field(
                "discount_percent",
                IntegerType(),
                minimum=1,
                maximum=90,
                minimum_reason=reasons.DISCOUNT_OUT_OF_RANGE,
            ),
            field("first_day", DATE),
            field("last_day", DATE),
        ]
    ),
    table="promotions",
    rules=(
        Rule(
            reasons.PROMOTION_ENDS_BEFORE_START,
            lambda event: event["last_day"] < event["first_day"],
            "last_day < first_day",
        ),
        Rule(
            reasons.DUPLICATE_LINE_NUMBER,
            lambda event: F.size(F.array_distinct(event["skus"])) < F.size(event["skus"]),
            "a sku repeats in skus",
        ),
    ),
)

STORE_V1 = EventSchema(
    "store",
    1,
    StructType(
        [
            *envelope(store_references=None),
            field("name", STRING),
            field("region", STRING),
            field("city", STRING),
            field("state", STRING),
            field("manager", STRING),
            field("timezone", STRING),
            field("size", STRING),
            field("square_meters", IntegerType(), minimum=1),
            field("opens_at", STRING),
            field("closes_at", STRING),
        ]
    ),
    table="stores",
)

PRODUCT_V1 = EventSchema(
    "product",
    1,
    StructType(
        [
            *envelope(store_required=False, store_references=None),
            field("sku", STRING),
            field("name", STRING),
            field("category", STRING),
            field("brand", STRING),
            field("ean", STRING),
            field("unit_cost", MONEY),
            field("price", MONEY),
            field("supplier_id", STRING),
            field("lead_time_days", IntegerType(), minimum=1),
        ]
    ),
    table="products",
)

EVENT_SCHEMAS: tuple[EventSchema, ...] = (
    SALE_V1,
    DELIVERY_V1,
    STOCK_COUNT_V1,
    STORE_V1,
    PRODUCT_V1,
    PURCHASE_ORDER_V1,
    PROMOTION_V1,
)
EVENT_TYPES: tuple[str, ...] = tuple(dict.fromkeys(schema.event_type for schema in EVENT_SCHEMAS))

# What every event is read with first: top-level fields as text, which never fails on a JSON
# object, so a record this cannot read is malformed JSON and nothing else.
ENVELOPE_PROBE = StructType(
    [
        StructField("event_id", StringType()),
        StructField("event_type", StringType()),
        StructField("schema_version", StringType()),
        StructField(CORRUPT_COLUMN, StringType()),
    ]
)

# A bronze line as ingestion/bronze_format.py writes it.
BRONZE_LINE = StructType(
    [
        StructField("stream", StringType()),
        StructField("shard_id", StringType()),
        StructField("sequence_number", StringType()),
        StructField("subsequence", LongType()),
        StructField("partition_key", StringType()),
        StructField("approximate_arrival", StringType()),
        StructField("ingested_at", StringType()),
        StructField("payload", StringType()),
        StructField("payload_encoding", StringType()),
        StructField("ingest_reason", StringType()),
        StructField("ingest_detail", StringType()),
        StructField(CORRUPT_COLUMN, StringType()),
    ]
)


def silver_type(declared: StructField) -> DataType:
    """The type a declared field has in silver: money as decimal(12,2), times as UTC timestamps."""
    kind = declared.metadata.get("format")
    if kind == MONEY:
        return MONEY_TYPE
    if kind == TIMESTAMP:
        return TimestampType()
    if kind == DATE:
        return DateType()
    if isinstance(declared.dataType, ArrayType) and isinstance(declared.dataType.elementType, StructType):
        element = declared.dataType.elementType
        return ArrayType(StructType([StructField(f.name, silver_type(f)) for f in element.fields]))
    return declared.dataType


def schema_for(event_type: str, version: int) -> EventSchema:
    for schema in EVENT_SCHEMAS:
        if schema.event_type == event_type and schema.version == version:
            return schema
    raise KeyError(f"no schema for {event_type} v{version}; add one to spark_jobs/silver/schemas.py")
