"""Gold: build time from silver, incremental refresh time, and query latency over millions of facts.

1. Synthetic silver (the contract of spark_jobs/gold/silver_contract.py) with
   BENCH_GOLD_SALES_LINES sales lines over BENCH_GOLD_DAYS days, 20 stores and 500 SKUs of
   skewed popularity, a full count on the first day and weekly deliveries, is written to a
   bucket of its own; the first silver-to-gold run over it is the build time.
2. The build's floor, in the same warm JVM: the same silver sales lines read and COPYed into
   PostgreSQL (gold's staging table for them, as the load streams them), nothing else.
3. BENCH_GOLD_INCREMENT more lines on the next day are appended; the next run is the refresh.
4. Facts are topped up in PostgreSQL to BENCH_GOLD_FACT_ROWS, and the open-alerts and
   store-performance views are timed (median of 20 runs after a warm-up).
5. BENCH_GOLD_INCREMENT more lines on the day after are appended, and that refresh, over the
   topped-up history, is compared with the first.

Alerts are not published here (their SNS throughput is not what is measured). Everything is
created under unique names and removed at the end. Set the sizes lower for a quick run, e.g.
BENCH_GOLD_SALES_LINES=20000 BENCH_GOLD_INCREMENT=2000 BENCH_GOLD_FACT_ROWS=100000.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from datetime import UTC, datetime

from psycopg2 import sql
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bench import figure, services
from lakehouse.aws import client
from lakehouse.config import GoldSettings, Settings, read_settings
from lakehouse.db import connect
from lakehouse.resources import ensure_bucket
from spark_jobs.gold.job import GoldRun, run_silver_to_gold
from spark_jobs.gold.load import copy_lines, csv_lines, spread
from spark_jobs.gold.migrate import migrate
from spark_jobs.gold.silver_contract import (
    DELIVERIES,
    PRODUCTS,
    SALES_LINES,
    STOCK_COUNTS,
    STORES,
    SilverTable,
    conform,
    silver_table_path,
)
from spark_jobs.gold.staging import FACT_SALES
from spark_jobs.session import spark_session

SALES_LINES_COUNT = int(os.environ.get("BENCH_GOLD_SALES_LINES", "1000000"))
INCREMENT = int(os.environ.get("BENCH_GOLD_INCREMENT", "100000"))
FACT_ROWS = int(os.environ.get("BENCH_GOLD_FACT_ROWS", "5000000"))
DAYS = int(os.environ.get("BENCH_GOLD_DAYS", "60"))
STORE_COUNT, SKU_COUNT, LINES_PER_BASKET = 20, 500, 3
START = datetime(2026, 9, 1, tzinfo=UTC)
QUERY_RUNS = 20
LATENCY_TARGET = "< 50"


def _uuid(seed) -> F.Column:
    """A UUID-shaped text from an md5, deterministic for the seed column."""
    digest = F.md5(seed.cast("string"))
    return F.concat_ws(
        "-",
        *(
            F.substring(digest, start, length)
            for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        ),
    )


def sales_lines(spark: SparkSession, first_line: int, count: int, first_day: int, days: int) -> DataFrame:
    """`count` sales lines spread evenly over `days` days from START + first_day."""
    line = F.col("id")
    basket = F.floor(line / LINES_PER_BASKET)
    seconds = (line - first_line) * (days * 86_400 / max(count, 1)) + first_day * 86_400
    popularity = F.pmod(F.xxhash64(line), F.lit(10_000)) / 10_000.0
    frame = spark.range(first_line, first_line + count).select(
        _uuid(basket).alias("event_id"),
        (F.pmod(line, F.lit(LINES_PER_BASKET)) + 1).cast("int").alias("line_number"),
        _uuid(basket + 7).alias("basket_id"),
        F.format_string("S%03d", F.pmod(basket, F.lit(STORE_COUNT)) + 1).alias("store_id"),
        F.format_string("SKU-%05d", F.floor(popularity * popularity * SKU_COUNT) + 1).alias("sku"),
        (F.pmod(F.xxhash64(line, F.lit(1)), F.lit(3)) + 1).cast("int").alias("quantity"),
        F.lit(3.50).cast("decimal(12,2)").alias("unit_price"),
        F.lit(0).cast("decimal(12,2)").alias("discount"),
        (F.lit(START.timestamp()) + seconds).cast("timestamp").alias("event_time"),
        F.lit("card").alias("payment_method"),
        F.when(F.pmod(basket, F.lit(3)) == 0, F.format_string("L%08d", F.pmod(basket, F.lit(5000)))).alias(
            "loyalty_id"
        ),
    )
    return conform(frame, SALES_LINES)


def reference_tables(spark: SparkSession) -> dict[SilverTable, DataFrame]:
    stores = spark.range(1, STORE_COUNT + 1).select(
        F.format_string("S%03d", "id").alias("store_id"),
        F.format_string("Store %d", "id").alias("name"),
        F.lit("west").alias("region"),
        F.lit("UTC").alias("timezone"),
        F.lit(START).cast("timestamp").alias("event_time"),
    )
    products = spark.range(1, SKU_COUNT + 1).select(
        F.format_string("SKU-%05d", "id").alias("sku"),
        F.format_string("Product %d", "id").alias("name"),
        F.format_string("category-%d", F.pmod("id", F.lit(8))).alias("category"),
        F.lit(2.10).cast("decimal(12,2)").alias("unit_cost"),
        F.lit(3.50).cast("decimal(12,2)").alias("price"),
        (F.pmod("id", F.lit(4)) + 2).cast("int").alias("lead_time_days"),
        F.lit(START).cast("timestamp").alias("event_time"),
    )
    return {STORES: conform(stores, STORES), PRODUCTS: conform(products, PRODUCTS)}


def stock_tables(sales: DataFrame) -> dict[SilverTable, DataFrame]:
    """A full count on day one (ten days of demand) and weekly deliveries of a week's demand."""
    daily = sales.groupBy("store_id", "sku").agg((F.sum("quantity") / DAYS).alias("per_day"))
    counts = daily.select(
        _uuid(F.concat("store_id", "sku")).alias("event_id"),
        "store_id",
        "sku",
        F.ceil(F.col("per_day") * 10 + 2).cast("int").alias("counted_quantity"),
        F.lit(START).cast("timestamp").alias("event_time"),
    )
    weeks = F.explode(F.sequence(F.lit(1), F.lit(max(DAYS // 7, 1)))).alias("week")
    deliveries = daily.select("store_id", "sku", "per_day", weeks).select(
        _uuid(F.concat("store_id", "sku", "week")).alias("event_id"),
        "store_id",
        "sku",
        F.ceil(F.col("per_day") * 7).cast("int").alias("quantity"),
        (F.lit(START.timestamp()) + F.col("week") * 7 * 86_400 - 3600).cast("timestamp").alias("event_time"),
    )
    return {STOCK_COUNTS: conform(counts, STOCK_COUNTS), DELIVERIES: conform(deliveries, DELIVERIES)}


def write(frame: DataFrame, bucket: str, table: SilverTable, mode: str = "overwrite") -> None:
    if "loaded_at" in frame.columns:
        frame = frame.withColumn("loaded_at", F.current_timestamp())
    frame.write.format("delta").mode(mode).save(silver_table_path(bucket, table))


TOP_UP = """
insert into fact_sales (
    event_id, line_number, basket_id, store_id, product_key, sku, date_key, sold_at, quantity,
    unit_price, discount, unit_cost, payment_method, loyalty_id
)
select
    md5('topup' || n)::uuid, 1, md5('basket' || n)::uuid, 'S' || lpad((n %% 20 + 1)::text, 3, '0'),
    product.product_key,
    product.sku, to_char(day, 'YYYYMMDD')::integer, day + interval '12 hours', 1, 3.50, 0, 2.10, 'card',
    null
from generate_series(1, %(rows)s) as n
cross join lateral (select %(first_day)s::date - (n %% 365)::integer as day) as days
join dim_product as product
    on product.sku = 'SKU-' || lpad((n %% 500 + 1)::text, 5, '0') and product.is_current
"""


def top_up_facts(settings: Settings, schema: str, target_rows: int) -> int:
    """Add synthetic past-year sales lines until fact_sales holds `target_rows`; returns the total."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}").format(sql.Identifier(schema)))
        cursor.execute("select count(*), min(sold_at)::date from fact_sales")
        rows, first_day = cursor.fetchone()
        if rows < target_rows:
            cursor.execute("select ensure_dim_date(%s::date - 366, %s::date)", (first_day, first_day))
            cursor.execute(TOP_UP, {"rows": target_rows - rows, "first_day": first_day})
            cursor.execute(
                "select refresh_agg_sales_store_daily(jsonb_agg(jsonb_build_object('store_id', s, "
                "'date_key', d))) from (select distinct store_id as s, date_key as d from fact_sales) as t"
            )
        cursor.execute("select count(*) from fact_sales")
        total = cursor.fetchone()[0]
    with connect(settings, autocommit=True, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("vacuum analyze {}.fact_sales").format(sql.Identifier(schema)))
        cursor.execute(sql.SQL("vacuum analyze {}.agg_sales_store_daily").format(sql.Identifier(schema)))
    return total


def median_latency_ms(settings: Settings, schema: str, query: str) -> float:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set search_path to {}").format(sql.Identifier(schema)))
        cursor.execute(query)  # warm-up
        cursor.fetchall()
        timings = []
        for _ in range(QUERY_RUNS):
            began = time.perf_counter()
            cursor.execute(query)
            cursor.fetchall()
            timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


def remove(settings: Settings, bucket: str, schema: str) -> None:
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
    s3 = client("s3", settings)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=bucket)


def floor_seconds(spark: SparkSession, settings: Settings, bucket: str, lines: int) -> float:
    """Read the silver sales lines and COPY them into gold's staging table for them, as the load
    streams them (then roll back): what any build of `lines` lines costs at least."""
    began = time.perf_counter()
    sales = spark.read.format("delta").load(silver_table_path(bucket, SALES_LINES))
    staged = spread(sales, lines).withColumnRenamed("event_time", "sold_at").select(*FACT_SALES.column_names)
    with connect(settings) as connection, connection.cursor() as cursor:
        FACT_SALES.create(cursor)
        copied = copy_lines(cursor, FACT_SALES.name, csv_lines(staged, FACT_SALES.name))
        connection.rollback()
    if copied != lines:
        raise RuntimeError(f"the floor run copied {copied:,} lines, not {lines:,}")
    return time.perf_counter() - began


def _refresh(
    spark: SparkSession, settings: Settings, bucket: str, schema: str, config: GoldSettings, day: int
) -> GoldRun:
    """Append BENCH_GOLD_INCREMENT lines on `day` after the first DAYS and refresh gold over them."""
    first_line = SALES_LINES_COUNT + (day - 1) * INCREMENT
    write(sales_lines(spark, first_line, INCREMENT, DAYS + day - 1, 1), bucket, SALES_LINES, mode="append")
    refresh = run_silver_to_gold(spark, settings, bucket, schema=schema, publish=False, config=config)
    if not isinstance(refresh, GoldRun) or refresh.rows.fact_sales_inserted != INCREMENT:
        raise RuntimeError(f"the refresh did not insert {INCREMENT} lines: {refresh}")
    return refresh


def run(settings: Settings) -> list[dict]:
    with services(settings, "localstack", "postgres"):
        return _measure(settings)


def _measure(settings: Settings) -> list[dict]:
    suffix = uuid.uuid4().hex[:8]
    bucket, schema = f"bench-gold-{suffix}", f"bench_gold_{suffix}"
    config = read_settings(env_file=None, environ={}).gold
    spark = spark_session("bench-gold", settings)
    ensure_bucket(settings, bucket)
    migrate(settings, schema, log=lambda message: None)
    try:
        sales = sales_lines(spark, 0, SALES_LINES_COUNT, 0, DAYS)
        write(sales, bucket, SALES_LINES)
        for table, frame in {**reference_tables(spark), **stock_tables(sales)}.items():
            write(frame, bucket, table)

        build = run_silver_to_gold(spark, settings, bucket, schema=schema, publish=False, config=config)
        floor = floor_seconds(spark, settings, bucket, SALES_LINES_COUNT)
        refresh = _refresh(spark, settings, bucket, schema, config, day=1)
        history = _count_facts(settings, schema)

        facts = top_up_facts(settings, schema, FACT_ROWS)
        open_alerts = median_latency_ms(settings, schema, "select * from v_open_alerts limit 50")
        performance = median_latency_ms(settings, schema, "select * from v_store_performance")
        refresh_topped_up = _refresh(spark, settings, bucket, schema, config, day=2)
    finally:
        remove(settings, bucket, schema)
    return [
        figure(f"gold build, {SALES_LINES_COUNT:,} sales lines", build.seconds, "s"),
        figure("gold build rate", SALES_LINES_COUNT / build.seconds, "lines/s"),
        figure(
            f"floor: read the same {SALES_LINES_COUNT:,} silver lines, COPY them to PostgreSQL", floor, "s"
        ),
        figure("ratio: build / floor", build.seconds / floor, "x", "<= 2"),
        figure(f"incremental refresh, {INCREMENT:,} new lines over {history:,} facts", refresh.seconds, "s"),
        figure(
            f"incremental refresh, {INCREMENT:,} new lines over {facts:,} facts",
            refresh_topped_up.seconds,
            "s",
        ),
        figure(
            "ratio: refresh over the larger / the smaller history",
            refresh_topped_up.seconds / refresh.seconds,
            "x",
            "<= 1.2",
        ),
        figure("open alerts after the refresh", refresh.alerts.open, "alerts"),
        figure(f"open-alerts view latency, {facts:,} facts", open_alerts, "ms", LATENCY_TARGET),
        figure(f"store-performance view latency, {facts:,} facts", performance, "ms", LATENCY_TARGET),
    ]


def _count_facts(settings: Settings, schema: str) -> int:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("select count(*) from {}.fact_sales").format(sql.Identifier(schema)))
        return cursor.fetchone()[0]
