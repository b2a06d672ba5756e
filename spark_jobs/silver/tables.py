"""The silver Delta tables: names, paths, columns, partitioning, and the MERGE that writes them.

| table          | one row per                         | key                        | partitioned by |
|----------------|-------------------------------------|----------------------------|----------------|
| sales_lines    | line of a sale basket               | event_id, line_number      | event_date     |
| deliveries     | SKU line of a delivery              | event_id, line_number      | event_date     |
| stock_counts   | SKU line of a stock count           | event_id, line_number      | event_date     |
| stores         | store snapshot event                | event_id                   | -              |
| products       | product snapshot event              | event_id                   | -              |
| purchase_orders| SKU line of a purchase order        | event_id, line_number      | event_date     |
| promotions     | SKU of a promotion announcement     | event_id, sku              | event_date     |
| quarantine     | rejected bronze line                | bronze_key, bronze_line    | ingest_date    |

Reference tables keep every snapshot (the newest per store_id or sku is the current one, see
`latest_snapshots`), so that every accepted bronze line is one event in exactly one table:
that is what lets bronze lines = silver events + quarantined rows be counted at any time.
Columns come from the schemas (schemas.py) plus lineage (`bronze_key`, `bronze_line`,
`arrived_at`) and `loaded_at`. `line_number` is the event's own where the schema has one, else
the line's 1-based position in the event. A promotion has no lines but a list of SKUs: it is
exploded on that list (`TableSpec.explode`), one row per SKU, the SKU as its line key. Its
`store_ids` (null when chain-wide) stays a list column.

Writes are insert-only MERGEs on the key, restricted to the partitions the batch touches so
Delta reads only those: rows already there are skipped, so reruns and replays add nothing.
Lines, like events, are immutable once accepted (a changed copy is a duplicate, quarantined).

Every write to a table on the lake is fenced (`fence`): just before its Delta commit the
writer proves it still holds silver's stage for the bucket (lakehouse/locks.py), and the
commit records the lease it was made under in Delta's `userMetadata`, so a table's history
shows which holder wrote each version. A table in a local folder belongs to the process that
made it (the unit tests'), which no other writer can reach: it is not fenced.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakehouse.faults import fault_point
from lakehouse.locks import require_lease
from spark_jobs.silver.parse import LINEAGE_COLUMNS
from spark_jobs.silver.schemas import (
    DELIVERY_V1,
    MONEY_TYPE,
    PRODUCT_V1,
    PROMOTION_V1,
    PURCHASE_ORDER_V1,
    SALE_V1,
    STOCK_COUNT_V1,
    STORE_V1,
    EventSchema,
    silver_type,
)

EVENT_DATE = "event_date"
INGEST_DATE = "ingest_date"
LINEAGE = ("bronze_key", "bronze_line", "arrived_at", "loaded_at")
# Envelope fields that say which schema a row was read with, not what happened.
_NOT_STORED = ("event_type",)
SILVER_STAGE = "silver"
# Delta writes this session setting into every commit's commitInfo.userMetadata.
COMMIT_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


@dataclass(frozen=True)
class TableSpec:
    """One silver table fed by events of one type (any schema version)."""

    name: str
    schemas: tuple[EventSchema, ...]
    keys: tuple[str, ...]
    partition_by: str | None
    derived: dict[str, str] = field(default_factory=dict)
    omit: tuple[str, ...] = ()
    explode: tuple[str, str] | None = None  # (list field, column): one row per value of the list

    @property
    def schema(self) -> EventSchema:
        """The newest schema version: it decides the table's columns."""
        return max(self.schemas, key=lambda s: s.version)

    @property
    def has_lines(self) -> bool:
        return self.schema.line_field is not None

    @property
    def exploded(self) -> list[StructField]:
        """The column an exploded list becomes, typed like the list's values."""
        if self.explode is None:
            return []
        source, column = self.explode
        declared = self.schema.struct[source]
        return [StructField(column, declared.dataType.elementType, column not in self.keys)]


SALES_LINES = TableSpec(
    "sales_lines",
    (SALE_V1,),
    ("event_id", "line_number"),
    EVENT_DATE,
    derived={"net_amount": "cast(quantity * unit_price - coalesce(discount, 0) as decimal(12,2))"},
)
DELIVERIES = TableSpec("deliveries", (DELIVERY_V1,), ("event_id", "line_number"), EVENT_DATE)
STOCK_COUNTS = TableSpec("stock_counts", (STOCK_COUNT_V1,), ("event_id", "line_number"), EVENT_DATE)
STORES = TableSpec("stores", (STORE_V1,), ("event_id",), None)
# Products are chain-wide: their store_id is always null, so it is not a column.
PRODUCTS = TableSpec("products", (PRODUCT_V1,), ("event_id",), None, omit=("store_id",))
PURCHASE_ORDERS = TableSpec("purchase_orders", (PURCHASE_ORDER_V1,), ("event_id", "line_number"), EVENT_DATE)
# Chain-wide promotions have no store_id; store_ids says where one runs (null: everywhere).
PROMOTIONS = TableSpec(
    "promotions",
    (PROMOTION_V1,),
    ("event_id", "sku"),
    EVENT_DATE,
    omit=("store_id",),
    explode=("skus", "sku"),
)
EVENT_TABLES: tuple[TableSpec, ...] = (
    SALES_LINES,
    DELIVERIES,
    STOCK_COUNTS,
    STORES,
    PRODUCTS,
    PURCHASE_ORDERS,
    PROMOTIONS,
)

QUARANTINE = "quarantine"
QUARANTINE_KEYS = ("bronze_key", "bronze_line")
QUARANTINE_SCHEMA = StructType(
    [
        StructField("bronze_key", StringType(), False),
        StructField("bronze_line", IntegerType(), False),
        StructField(INGEST_DATE, DateType()),
        StructField("reason", StringType(), False),
        StructField("detail", StringType()),
        StructField("event_type", StringType()),
        StructField("event_id", StringType()),
        StructField("store_id", StringType()),
        StructField("event_time", TimestampType()),
        StructField("payload", StringType()),
        StructField("payload_encoding", StringType()),
        StructField("stream", StringType()),
        StructField("shard_id", StringType()),
        StructField("sequence_number", StringType()),
        StructField("subsequence", LongType()),
        StructField("arrived_at", TimestampType()),
        StructField("quarantined_at", TimestampType()),
    ]
)


def table_path(root: str, name: str) -> str:
    """Where a table lives under the silver root (`s3a://bucket` or a local folder in tests)."""
    return f"{root.rstrip('/')}/{name}"


def _event_fields(spec: TableSpec) -> list[StructField]:
    """The event's own fields that become columns: not its lines or exploded list, not the omitted."""
    line_field = spec.schema.line_field
    exploded = spec.explode[0] if spec.explode else None
    skipped = {*_NOT_STORED, *spec.omit, line_field.name if line_field else None, exploded}
    return [f for f in spec.schema.struct.fields if f.name not in skipped]


def table_schema(spec: TableSpec) -> StructType:
    """The Delta schema of an event table, derived from its newest event schema."""
    columns: list[StructField] = []
    for declared in _event_fields(spec):
        columns.append(StructField(declared.name, silver_type(declared), declared.name not in spec.keys))
        if declared.name == "event_time":
            columns.append(StructField(EVENT_DATE, DateType(), False))
    if spec.has_lines:
        line_struct = silver_type(spec.schema.line_field).elementType
        if "line_number" not in line_struct.fieldNames():
            columns.append(StructField("line_number", IntegerType(), False))
        columns += [StructField(f.name, f.dataType, f.name not in spec.keys) for f in line_struct.fields]
    columns += spec.exploded
    for name in spec.derived:
        columns.append(StructField(name, MONEY_TYPE))
    columns += [
        StructField("bronze_key", StringType(), False),
        StructField("bronze_line", IntegerType(), False),
        StructField("arrived_at", TimestampType()),
        StructField("loaded_at", TimestampType()),
    ]
    return StructType(columns)


def table_rows(events: DataFrame, spec: TableSpec, loaded_at: Column) -> DataFrame:
    """Accepted events of the table's type -> its rows (one per line for line tables)."""
    accepted = events.where(
        F.col("reason").isNull() & F.col("schema_key").isin(*[s.key for s in spec.schemas])
    )
    target = table_schema(spec)
    event = F.col(spec.schema.key)
    picked = [event[f.name].alias(f.name) for f in _event_fields(spec)]
    if spec.has_lines:
        line_field = spec.schema.line_field
        exploded = accepted.select(
            *picked,
            *LINEAGE_COLUMNS,
            F.posexplode(event[line_field.name]).alias("_position", "_line"),
        )
        line_names = silver_type(line_field).elementType.fieldNames()
        numbered = exploded.select(
            "*",
            *[F.col("_line")[name].alias(name) for name in line_names],
            *([] if "line_number" in line_names else [(F.col("_position") + 1).alias("line_number")]),
        )
    elif spec.explode is not None:
        source, column = spec.explode
        numbered = accepted.select(*picked, *LINEAGE_COLUMNS, F.explode(event[source]).alias(column))
    else:
        numbered = accepted.select(*picked, *LINEAGE_COLUMNS)
    with_extras = numbered.withColumn(EVENT_DATE, F.to_date("event_time")).withColumn("loaded_at", loaded_at)
    for name, expression in spec.derived.items():
        with_extras = with_extras.withColumn(name, F.expr(expression))
    return with_extras.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in target.fields])


def quarantine_rows(events: DataFrame, quarantined_at: Column) -> DataFrame:
    """Rejected lines -> quarantine rows, payload as it came (base64 text when it was not UTF-8)."""
    rejected = events.where(F.col("reason").isNotNull()).withColumn("quarantined_at", quarantined_at)
    return rejected.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in QUARANTINE_SCHEMA.fields])


def lake_bucket(path: str) -> str | None:
    """The S3 bucket a table path is in, or None for a local folder."""
    if not path.startswith("s3a://"):
        return None
    return path.removeprefix("s3a://").split("/", 1)[0]


def fence(spark: SparkSession, path: str, action: str) -> None:
    """Just before a Delta commit to `path`: prove silver's lease on its bucket, tag the commit with it.

    Raises NoLeaseError or LeaseLostError (lakehouse.locks) instead of writing.
    """
    bucket = lake_bucket(path)
    if bucket is None:
        spark.conf.unset(COMMIT_METADATA)
        return
    lease = require_lease(SILVER_STAGE, bucket, f"{action} {path}")
    spark.conf.set(COMMIT_METADATA, lease.tag)


def ensure_table(spark: SparkSession, path: str, schema: StructType, partition_by: str | None) -> None:
    """Create the Delta table with its explicit schema if it is not there yet."""
    fence(spark, path, "creating the Delta table")
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(partition_by)
    builder.execute()


def ensure_tables(spark: SparkSession, root: str) -> None:
    for spec in EVENT_TABLES:
        ensure_table(spark, table_path(root, spec.name), table_schema(spec), spec.partition_by)
    ensure_table(spark, table_path(root, QUARANTINE), QUARANTINE_SCHEMA, INGEST_DATE)


def _sql_literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def partition_filter(alias: str, column: str, values: Iterable[object]) -> str:
    """`t.event_date IN ('2026-11-21', ...)`: a literal list, which Delta prunes files with."""
    literals = sorted({_sql_literal(value) for value in values if value is not None})
    present = f"{alias}.{column} IN ({', '.join(literals)})" if literals else "false"
    if any(value is None for value in values):
        present = f"({present} OR {alias}.{column} IS NULL)"
    return present


def merge_rows(
    spark: SparkSession,
    path: str,
    rows: DataFrame,
    keys: Sequence[str],
    partition_by: str | None = None,
    partitions: Iterable[object] = (),
) -> int:
    """Insert rows whose key is not in the table yet; returns how many were inserted.

    SQL MERGE rather than the DeltaTable builder: it returns the inserted count itself, where
    the builder needs the table history read back.
    """
    condition = " AND ".join(f"t.{key} = s.{key}" for key in keys)
    if partition_by:
        pruning = partition_filter("t", partition_by, list(partitions))
        condition = f"{pruning} AND t.{partition_by} <=> s.{partition_by} AND {condition}"
    view = f"silver_merge_source_{uuid.uuid4().hex}"
    rows.createOrReplaceTempView(view)
    try:
        fence(spark, path, "MERGE into")
        metrics = spark.sql(
            f"MERGE INTO delta.`{path}` AS t USING {view} AS s ON {condition} WHEN NOT MATCHED THEN INSERT *"
        ).first()
    finally:
        spark.catalog.dropTempView(view)
    fault_point("silver.after_merge")
    return int(metrics["num_inserted_rows"]) if metrics is not None else 0


def latest_snapshots(snapshots: DataFrame, key: str) -> DataFrame:
    """The newest snapshot per `key` (store_id, sku): the current reference data, for gold."""
    newest = F.max(F.struct("event_time", "event_id")).alias("_newest")
    chosen = snapshots.groupBy(key).agg(newest).select(key, F.col("_newest.event_id").alias("event_id"))
    return snapshots.join(chosen, [key, "event_id"], "left_semi")
