"""What must hold between the layers after any run, crash or not: the end-to-end test and the
fault suite check the same things with the same code.

- produced = bronze: every event the producer sent is in bronze exactly once;
- bronze = silver + quarantine: each bronze line is one accepted event or one quarantined line;
- revenue per store and day: the producer's truth = silver = gold.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import Decimal

from ingestion.bronze_format import raw_payload
from ingestion.drain import bronze_lines
from lakehouse.config import Settings
from lakehouse.db import connect
from spark_jobs.session import s3a_uri
from spark_jobs.silver.job import run_bronze_to_silver
from spark_jobs.silver.tables import QUARANTINE, table_path

SILVER_EVENT_TABLES = (
    "sales_lines",
    "deliveries",
    "stock_counts",
    "stores",
    "products",
    "purchase_orders",
    "promotions",
)


def line_revenue(line: dict) -> Decimal:
    return line["quantity"] * Decimal(line["unit_price"]) - Decimal(line["discount"])


def truth_revenue(events: Iterable) -> dict[tuple[str, str], Decimal]:
    """Revenue per store and day of every valid sale the producer sent (late ones included)."""
    revenue: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for event in events:
        if event.event_type != "sale" or event.bad_class not in (None, "late_event"):
            continue
        document = json.loads(event.payload)
        day = document["event_time"][:10]
        for line in document["lines"]:
            revenue[(document["store_id"], day)] += line_revenue(line)
    return dict(revenue)


def assert_bronze_holds_each_event_once(settings: Settings, events: list) -> list[dict]:
    """Produced = bronze, as a multiset of payloads; returns bronze's lines."""
    lines = bronze_lines(settings)
    assert len(lines) == len(events), f"bronze holds {len(lines)} lines for {len(events)} events sent"
    assert Counter(raw_payload(line) for line in lines) == Counter(event.payload for event in events)
    return lines


def assert_silver_accounts_for_bronze(spark, settings: Settings, bronze_line_count: int):
    """Bronze = silver + quarantine; returns the quarantine table's frame."""
    silver_root = s3a_uri(settings.silver_bucket)
    read = spark.read.format("delta")
    accepted = sum(
        read.load(table_path(silver_root, table)).select("event_id").distinct().count()
        for table in SILVER_EVENT_TABLES
    )
    quarantine = read.load(table_path(silver_root, QUARANTINE))
    quarantined = quarantine.count()
    assert accepted + quarantined == bronze_line_count, (
        f"{accepted} accepted events + {quarantined} quarantined lines != {bronze_line_count} bronze lines"
    )
    return quarantine


# Columns a rerun writes differently from a clean run by design: when the row was loaded, and a
# quarantine's explanation, worded after the batch that made the decision (a repeated event is
# "already in silver from <line>" when its first copy came in an earlier run, "repeats an
# earlier line of this batch" when both came in one): same line, same reason, other words.
RUN_COLUMNS = {"loaded_at", "run_id", "quarantined_at", "detail"}


def silver_rows(spark, silver_bucket: str, table: str) -> Counter:
    """A silver table's rows as a multiset, without the columns that say which run wrote them."""
    frame = spark.read.format("delta").load(table_path(s3a_uri(silver_bucket), table))
    kept = [column for column in frame.columns if column not in RUN_COLUMNS]
    return Counter(tuple(str(value) for value in row) for row in frame.select(*kept).collect())


def assert_silver_equals_a_clean_run(spark, settings: Settings, bronze_line_count: int) -> None:
    """Silver after kills and reruns = one clean run over the same bronze, table for table."""
    clean_bucket = f"{settings.silver_bucket}-clean"
    clean = run_bronze_to_silver(spark, settings, silver_bucket=clean_bucket)
    assert clean.bronze_lines == bronze_line_count
    for table in (*SILVER_EVENT_TABLES, QUARANTINE):
        assert silver_rows(spark, settings.silver_bucket, table) == silver_rows(spark, clean_bucket, table), (
            table
        )


def silver_revenue(spark, settings: Settings) -> dict[tuple[str, str], Decimal]:
    frame = spark.read.format("delta").load(table_path(s3a_uri(settings.silver_bucket), "sales_lines"))
    return {
        (row["store_id"], str(row["day"])): row["revenue"]
        for row in frame.selectExpr(
            "store_id", "to_date(event_time) as day", "quantity * unit_price - discount as revenue"
        )
        .groupBy("store_id", "day")
        .agg({"revenue": "sum"})
        .withColumnRenamed("sum(revenue)", "revenue")
        .collect()
    }


def gold_revenue(settings: Settings, schema: str) -> dict[tuple[str, str], Decimal]:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"select store_id, to_char(to_date(date_key::text, 'YYYYMMDD'), 'YYYY-MM-DD'), revenue "
            f'from "{schema}".agg_sales_store_daily'
        )
        return {(store, day): revenue for store, day, revenue in cursor.fetchall()}
