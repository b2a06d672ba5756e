"""Silver throughput and incremental cost: the real job on LocalStack S3, Spark local[2], Delta.

Figures:

- throughput: sale lines per second through `run_bronze_to_silver` (list, read, parse, validate,
  Great Expectations, MERGE, log) for BENCH_SILVER_LINES sale lines (default 1,000,000) in
  bronze; the JVM is warmed by a small run first, as the every-minute schedule would have it;
- floor: what this machine does with the same 1M lines when nothing is checked: read the
  objects, parse each bronze line and its sale payload, explode the lines and append them to
  one Delta table (no validation, quarantine, MERGE, Great Expectations or bronze log); run
  after the job, in the same warm JVM, so it is the floor's best case. The job's time over the
  floor's is what validating and writing exactly once cost;
- incremental cost: the same job on a BENCH_SILVER_INCREMENT-line increment (default 100,000,
  the next day) over BENCH_SILVER_HISTORY_SMALL and over BENCH_SILVER_HISTORY_LARGE lines of
  history (defaults 1,000,000 and 5,000,000); the ratio of the two times is the figure.

History grows the way a store chain's does: a fixed volume per day (BENCH_SILVER_LINES_PER_DAY,
default 250,000), so five times the history is five times the days, not fuller days. Bronze
input is generated here (baskets of 1 to 7 lines over BENCH_SILVER_STORES stores and
BENCH_SILVER_PRODUCTS SKUs), in the format ingestion writes. Set the sizes lower for a quick run,
e.g. BENCH_SILVER_LINES=100000 BENCH_SILVER_HISTORY_LARGE=500000.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyspark.sql import functions as F

from bench import figure, services
from ingestion.bronze_format import BronzeEvent, encode_object, iso_utc, object_key
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.resources import ensure_bucket
from spark_jobs.session import s3a_uri, spark_session
from spark_jobs.silver import bronze_log
from spark_jobs.silver.job import SilverRunSummary, read_bronze_objects, run_bronze_to_silver
from spark_jobs.silver.parse import split_lines
from spark_jobs.silver.schemas import BRONZE_LINE, SALE_V1
from tests.support import sample_events

STREAM = "bench-pos-events"
SHARDS = ("shardId-000000000000", "shardId-000000000001")
FIRST_DAY = datetime(2026, 9, 1, tzinfo=UTC)
BASKETS_PER_OBJECT = 5_000


def _size(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass
class BronzeWriter:
    """Writes generated baskets to bronze as ingestion would: gzip NDJSON objects per shard."""

    settings: Settings
    bucket: str
    stores: int
    products: int
    rng: random.Random = field(default_factory=lambda: random.Random(20261122))
    sequence: int = 0
    sale_lines: int = 0
    objects: int = 0

    def _uuid(self) -> str:
        text = f"{(self.rng.getrandbits(128) & ~(0xF << 76)) | (0x4 << 76):032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def _put(self, payloads: list[tuple[bytes, datetime]]) -> None:
        shard = SHARDS[self.objects % len(SHARDS)]
        first = self.sequence + 1
        events = []
        for offset, (payload, arrival) in enumerate(payloads):
            events.append(BronzeEvent(STREAM, shard, f"{first + offset:056d}", 0, "S001", arrival, payload))
        self.sequence += len(payloads)
        ingested_at = payloads[-1][1] + timedelta(seconds=2)
        key = object_key(STREAM, shard, f"{first:056d}", f"{self.sequence:056d}", ingested_at)
        body = encode_object(events, ingested_at)
        client("s3", self.settings).put_object(Bucket=self.bucket, Key=key, Body=body)
        self.objects += 1

    def reference_data(self, when: datetime) -> None:
        events = [sample_events.store_event(f"S{n:03d}", when=when) for n in range(1, self.stores + 1)]
        events += [
            sample_events.product_event(f"SKU-{n:05d}", when=when) for n in range(1, self.products + 1)
        ]
        self._put([(sample_events.payload(event), when + timedelta(seconds=1)) for event in events])

    def _baskets(self, lines: int, day: datetime) -> Iterator[tuple[bytes, datetime]]:
        rng, written = self.rng, 0
        while written < lines:
            count = min(rng.randint(1, 7), lines - written)
            when = day + timedelta(milliseconds=rng.randrange(86_400_000))
            parts = []
            for number in range(1, count + 1):
                sku = f"SKU-{rng.randint(1, self.products):05d}"
                price = rng.randint(79, 2499)
                parts.append(
                    f'{{"line_number":{number},"sku":"{sku}","quantity":{rng.randint(1, 4)},'
                    f'"unit_price":"{price // 100}.{price % 100:02d}","discount":"0.00","promotion_id":null}}'
                )
            payload = (
                f'{{"event_id":"{self._uuid()}","event_type":"sale","schema_version":1,'
                f'"event_time":"{iso_utc(when)}","store_id":"S{rng.randint(1, self.stores):03d}",'
                f'"basket_id":"{self._uuid()}","payment_method":"card","loyalty_id":null,'
                f'"lines":[{",".join(parts)}]}}'
            )
            written += count
            yield payload.encode("ascii"), when + timedelta(seconds=1)

    def sales(self, lines: int, first_day: datetime, lines_per_day: int) -> None:
        """`lines` sale lines, `lines_per_day` a day from `first_day` on, in time order per object."""
        day = first_day
        while lines > 0:
            today = min(lines, lines_per_day)
            batch: list[tuple[bytes, datetime]] = []
            for item in sorted(self._baskets(today, day), key=lambda pair: pair[1]):
                batch.append(item)
                if len(batch) == BASKETS_PER_OBJECT:
                    self._put(batch)
                    batch = []
            if batch:
                self._put(batch)
            self.sale_lines += today
            lines -= today
            day += timedelta(days=1)


def _drop_bucket(settings: Settings, bucket: str) -> None:
    s3 = client("s3", settings)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)


def _timed_run(spark, settings: Settings, lake: dict[str, str]) -> tuple[float, SilverRunSummary]:
    options = dataclasses.replace(settings.silver, max_objects_per_run=0)
    began = time.monotonic()
    summary = run_bronze_to_silver(spark, settings, **lake, options=options)
    seconds = time.monotonic() - began
    if not summary.reconciliation_holds:
        raise RuntimeError(f"reconciliation failed in the benchmark: {summary}")
    return seconds, summary


def _floor_run(spark, settings: Settings, bronze_bucket: str, target: str, sales_lines: int) -> float:
    """Seconds to read, parse and append every sale line of `bronze_bucket`, checking nothing."""
    keys = [item.key for item in bronze_log.list_objects(settings, bronze_bucket, STREAM, None)]
    began = time.monotonic()
    lines = split_lines(read_bronze_objects(spark, s3a_uri(bronze_bucket), keys))
    payloads = lines.select(F.from_json("line", BRONZE_LINE)["payload"].alias("payload"))
    sales = payloads.select(F.from_json("payload", SALE_V1.parse_struct).alias("sale")).where(
        F.col("sale.event_type") == "sale"
    )
    exploded = sales.select(
        "sale.event_id",
        "sale.store_id",
        F.to_timestamp("sale.event_time").alias("event_time"),
        F.posexplode("sale.lines").alias("position", "line"),
    )
    rows = exploded.select("*", "line.*").drop("line").withColumn("event_date", F.to_date("event_time"))
    rows.write.format("delta").partitionBy("event_date").mode("append").save(target)
    seconds = time.monotonic() - began
    written = spark.read.format("delta").load(target).count()
    if written != sales_lines:
        raise RuntimeError(f"the floor run wrote {written:,} sale lines, not {sales_lines:,}")
    return seconds


def run(settings: Settings) -> list[dict]:
    with services(settings, "localstack"):
        return _measure(settings)


def _measure(settings: Settings) -> list[dict]:
    lines = _size("BENCH_SILVER_LINES", 1_000_000)
    increment = _size("BENCH_SILVER_INCREMENT", 100_000)
    small = _size("BENCH_SILVER_HISTORY_SMALL", 1_000_000)
    large = _size("BENCH_SILVER_HISTORY_LARGE", 5_000_000)
    per_day = _size("BENCH_SILVER_LINES_PER_DAY", 250_000)
    stores, products = _size("BENCH_SILVER_STORES", 20), _size("BENCH_SILVER_PRODUCTS", 2_000)

    spark = spark_session("bench-silver", settings)
    spark.sparkContext.setLogLevel("ERROR")
    name = f"bench-silver-{uuid.uuid4().hex[:8]}"
    buckets: list[str] = []
    try:
        for part in ("warm-bronze", "warm-silver", "bronze", "silver", "floor"):
            ensure_bucket(settings, f"{name}-{part}")
            buckets.append(f"{name}-{part}")
        warm = BronzeWriter(settings, buckets[0], stores, products)
        warm.reference_data(FIRST_DAY)
        warm.sales(2_000, FIRST_DAY, per_day)
        _timed_run(
            spark, settings, {"stream": STREAM, "bronze_bucket": buckets[0], "silver_bucket": buckets[1]}
        )

        lake = {"stream": STREAM, "bronze_bucket": buckets[2], "silver_bucket": buckets[3]}
        writer = BronzeWriter(settings, buckets[2], stores, products)
        writer.reference_data(FIRST_DAY)
        writer.sales(lines, FIRST_DAY, per_day)
        seconds, summary = _timed_run(spark, settings, lake)
        figures = [
            figure(f"throughput, {lines:,} sale lines", lines / seconds, "lines/s", ">= 50000"),
            figure(f"job time, {lines:,} sale lines", seconds, "s"),
            figure("events per second (baskets + reference)", summary.bronze_lines / seconds, "events/s"),
        ]
        floor_seconds = _floor_run(
            spark, settings, buckets[2], f"{s3a_uri(buckets[4])}/sales_lines", writer.sale_lines
        )
        figures += [
            figure(f"floor: read, parse, append only, {lines:,} lines", lines / floor_seconds, "lines/s"),
            figure("job time / floor time", seconds / floor_seconds, "x"),
        ]

        # History: top up to the small size, add an increment, then top up to the large size.
        next_day = FIRST_DAY + timedelta(days=-(-lines // per_day))
        if small > writer.sale_lines:
            writer.sales(small - writer.sale_lines, next_day, per_day)
            next_day += timedelta(days=-(-(small - lines) // per_day))
            _timed_run(spark, settings, lake)
        history_small = writer.sale_lines
        writer.sales(increment, next_day, per_day)
        next_day += timedelta(days=1)
        small_seconds, _ = _timed_run(spark, settings, lake)

        grow = large - writer.sale_lines
        if grow > 0:
            writer.sales(grow, next_day, per_day)
            next_day += timedelta(days=-(-grow // per_day))
            _timed_run(spark, settings, lake)
        history_large = writer.sale_lines
        writer.sales(increment, next_day, per_day)
        large_seconds, _ = _timed_run(spark, settings, lake)
        figures += [
            figure(f"increment of {increment:,} over {history_small:,} lines", small_seconds, "s"),
            figure(f"increment of {increment:,} over {history_large:,} lines", large_seconds, "s"),
            figure(
                "incremental cost ratio (large / small history)", large_seconds / small_seconds, "x", "<= 1.5"
            ),
        ]
        return figures
    finally:
        for bucket in buckets:
            _drop_bucket(settings, bucket)
