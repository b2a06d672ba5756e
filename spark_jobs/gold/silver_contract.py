"""What gold reads from silver: tables, columns and types, in one place.

Silver's own table definitions live in `spark_jobs/silver/`; this module names only the columns
gold needs and the types it expects, so aligning with a change in silver is a change here.
tests/unit/test_gold_silver_contract.py holds it to `spark_jobs.silver.tables`.
`read_silver_table` checks the Delta table against this contract and returns exactly these
columns (cast to these types), so nothing downstream depends on silver's other columns. A column
marked optional may be absent (it reads as null); `event_date` is derived from `event_time`
(UTC) when silver does not store it. `loaded_at` (when silver stored the row) lets gold find
events that arrived late, whatever their event time.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    DateType,
    DecimalType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from spark_jobs.session import s3a_uri

MONEY = DecimalType(12, 2)


@dataclass(frozen=True)
class Column:
    name: str
    kind: DataType
    optional: bool = False


@dataclass(frozen=True)
class SilverTable:
    name: str
    columns: tuple[Column, ...]

    @property
    def schema(self) -> StructType:
        return StructType([StructField(c.name, c.kind, nullable=c.optional) for c in self.columns])


def _c(name: str, kind: DataType, optional: bool = False) -> Column:
    return Column(name, kind, optional)


SALES_LINES = SilverTable(
    "sales_lines",
    (
        _c("event_id", StringType()),
        _c("line_number", IntegerType()),
        _c("basket_id", StringType()),
        _c("store_id", StringType()),
        _c("sku", StringType()),
        _c("quantity", IntegerType()),
        _c("unit_price", MONEY),
        _c("discount", MONEY, optional=True),
        _c("event_time", TimestampType()),
        _c("event_date", DateType()),
        _c("payment_method", StringType()),
        _c("loyalty_id", StringType(), optional=True),
        _c("loaded_at", TimestampType(), optional=True),
    ),
)

DELIVERIES = SilverTable(
    "deliveries",
    (
        _c("event_id", StringType()),
        _c("order_id", StringType(), optional=True),
        _c("store_id", StringType()),
        _c("sku", StringType()),
        _c("quantity", IntegerType()),
        _c("event_time", TimestampType()),
        _c("loaded_at", TimestampType(), optional=True),
    ),
)

STOCK_COUNTS = SilverTable(
    "stock_counts",
    (
        _c("event_id", StringType()),
        _c("store_id", StringType()),
        _c("sku", StringType()),
        _c("counted_quantity", IntegerType()),
        _c("event_time", TimestampType()),
        _c("loaded_at", TimestampType(), optional=True),
    ),
)

STORES = SilverTable(
    "stores",
    (
        _c("store_id", StringType()),
        _c("name", StringType()),
        _c("region", StringType()),
        _c("city", StringType(), optional=True),
        _c("state", StringType(), optional=True),
        _c("manager", StringType(), optional=True),
        _c("timezone", StringType()),
        _c("size", StringType(), optional=True),
        _c("square_meters", IntegerType(), optional=True),
        _c("opens_at", StringType(), optional=True),
        _c("closes_at", StringType(), optional=True),
        _c("event_time", TimestampType()),
    ),
)

PRODUCTS = SilverTable(
    "products",
    (
        _c("sku", StringType()),
        _c("name", StringType()),
        _c("category", StringType()),
        _c("brand", StringType(), optional=True),
        _c("supplier_id", StringType(), optional=True),
        _c("unit_cost", MONEY),
        _c("price", MONEY),
        _c("lead_time_days", IntegerType(), optional=True),
        _c("event_time", TimestampType()),
    ),
)

PURCHASE_ORDERS = SilverTable(
    "purchase_orders",
    (
        _c("event_id", StringType()),
        _c("line_number", IntegerType()),
        _c("store_id", StringType()),
        _c("order_id", StringType()),
        _c("supplier_id", StringType(), optional=True),
        _c("ordered_at", TimestampType()),
        _c("expected_at", TimestampType()),
        _c("sku", StringType()),
        _c("quantity", IntegerType()),
        _c("event_time", TimestampType()),
        _c("event_date", DateType()),
        _c("loaded_at", TimestampType(), optional=True),
    ),
)

PROMOTIONS = SilverTable(
    "promotions",
    (
        _c("event_id", StringType()),
        _c("promotion_id", StringType()),
        _c("store_ids", ArrayType(StringType()), optional=True),  # null: every store
        _c("sku", StringType()),
        _c("discount_percent", IntegerType()),
        _c("first_day", DateType()),
        _c("last_day", DateType()),
        _c("event_time", TimestampType()),
        _c("loaded_at", TimestampType(), optional=True),
    ),
)

TABLES: tuple[SilverTable, ...] = (SALES_LINES, DELIVERIES, STOCK_COUNTS, STORES, PRODUCTS)

# Silver's log of processed bronze objects, written after a run's tables: one record per object,
# stamped with the time its run began (the `loaded_at` of every row the run wrote).
BRONZE_LOG = SilverTable(
    "_meta/bronze_log",
    (_c("run_id", StringType()), _c("processed_at", TimestampType())),
)


class SilverContractError(RuntimeError):
    """A silver table lacks a column gold needs; the message names the table and the columns."""


def silver_table_path(bucket: str, table: SilverTable) -> str:
    """Where silver keeps a table: `s3a://<silver bucket>/<table>`."""
    return s3a_uri(bucket, table.name)


def conform(frame: DataFrame, table: SilverTable, source: str = "") -> DataFrame:
    """The contract's columns of `frame`, cast to the contract's types, in the contract's order."""
    present = set(frame.columns)
    if "event_date" not in present and "event_time" in present:
        frame = frame.withColumn("event_date", F.to_date("event_time"))
        present.add("event_date")
    missing = [c.name for c in table.columns if c.name not in present and not c.optional]
    if missing:
        raise SilverContractError(
            f"silver table {table.name} {source}lacks {', '.join(missing)}: align "
            "spark_jobs/gold/silver_contract.py with spark_jobs/silver/"
        )
    return frame.select(
        *[
            (F.col(c.name) if c.name in present else F.lit(None)).cast(c.kind).alias(c.name)
            for c in table.columns
        ]
    )


def read_silver_table(spark: SparkSession, bucket: str, table: SilverTable) -> DataFrame:
    """The Delta table of `table` in `bucket`, conformed to the contract; empty if silver has none yet.

    A table silver has not written yet (no delivery has happened) is not an error: gold loads
    what there is.
    """
    from delta.tables import DeltaTable

    path = silver_table_path(bucket, table)
    if not DeltaTable.isDeltaTable(spark, path):
        return spark.createDataFrame([], table.schema)
    return conform(spark.read.format("delta").load(path), table, f"at {path} ")
