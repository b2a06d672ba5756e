"""Which bronze objects silver has processed: a tracked file log, a Delta table on the silver bucket.

Why a log of our own rather than Structured Streaming with Trigger.AvailableNow:

- the log is also the audit: each object's row keeps its line count and how many lines were
  accepted or quarantined, so the reconciliation of any object can be read back later;
- the unit of retry is explicit and inspectable: a run that fails (a quality gate, a crash)
  logs nothing, so its objects are simply taken again; replaying an object is deleting its row
  (`forget`), not surgery on a streaming checkpoint tied to query options;
- listing is bounded: bronze keys are laid out by ingest date and hour, so a run lists only from
  the newest logged hour minus a lookback, where the streaming file source lists the whole
  prefix on every trigger and keeps every file name it ever saw in its metadata log;
- a run is plain batch code (read, validate, quality gate, several MERGEs, log), which a Mage
  block calls and which fails with an ordinary exception, not a foreachBatch inside a query.

Exactly-once does not rest on the log alone: the log is written after the tables, and every
table write is a MERGE keyed by event or by bronze line, so an object processed twice (a crash
between the MERGEs and the log) changes nothing the second time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from ingestion.bronze_format import stream_prefix
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.faults import fault_point
from spark_jobs.silver.tables import ensure_table, fence, table_path

BRONZE_LOG = "_meta/bronze_log"
OBJECT_SUFFIX = ".ndjson.gz"
_HOUR_IN_KEY = re.compile(r"ingest_date=(\d{4}-\d{2}-\d{2})/ingest_hour=(\d{2})/")

LOG_SCHEMA = StructType(
    [
        StructField("bronze_key", StringType(), False),
        StructField("stream", StringType()),
        StructField("size", LongType()),
        StructField("lines", LongType()),
        StructField("accepted", LongType()),
        StructField("quarantined", LongType()),
        StructField("run_id", StringType()),
        StructField("processed_at", TimestampType()),
    ]
)


@dataclass(frozen=True)
class BronzeObject:
    key: str
    size: int


def log_path(root: str) -> str:
    return table_path(root, BRONZE_LOG)


def ensure_log(spark: SparkSession, root: str) -> None:
    ensure_table(spark, log_path(root), LOG_SCHEMA, None)


def listing_start(stream: str, newest_key: str | None, lookback_hours: int) -> str | None:
    """Where a listing starts: the newest logged hour minus the lookback (keys sort by time).

    None (list everything) when nothing is logged yet or the key has no ingest date and hour.
    The lookback covers objects that land in an hour after later hours were listed (a slow
    write, clocks apart); objects before it are assumed processed or are found by `forget`.
    """
    if newest_key is None:
        return None
    found = _HOUR_IN_KEY.search(newest_key)
    if found is None:
        return None
    hour = datetime.strptime(f"{found[1]} {found[2]}", "%Y-%m-%d %H") - timedelta(hours=lookback_hours)
    return f"{stream_prefix(stream)}ingest_date={hour:%Y-%m-%d}/ingest_hour={hour:%H}/"


def listing_prefixes(stream: str, start: str | None, today: date) -> list[str]:
    """S3 prefixes to list: one per ingest date from `start`'s through tomorrow, or the whole stream.

    Listing by date prefix rather than with `StartAfter`: LocalStack compares StartAfter with
    URL-encoded keys, so a key with `=` in it (all of ours) sorts wrongly and the listing comes
    back empty. Tomorrow is included for clocks a little ahead.
    """
    if start is None:
        return [stream_prefix(stream)]
    found = _HOUR_IN_KEY.search(start)
    if found is None:
        return [stream_prefix(stream)]
    day = datetime.strptime(found[1], "%Y-%m-%d").date()
    last = max(today, day) + timedelta(days=1)
    prefixes = []
    while day <= last:
        prefixes.append(f"{stream_prefix(stream)}ingest_date={day:%Y-%m-%d}/")
        day += timedelta(days=1)
    return prefixes


def list_objects(settings: Settings, bucket: str, stream: str, start: str | None) -> list[BronzeObject]:
    """Bronze objects of `stream` in key order, after `start` when given."""
    paginator = client("s3", settings, stage="spark").get_paginator("list_objects_v2")
    found = []
    for prefix in listing_prefixes(stream, start, datetime.now(UTC).date()):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith(OBJECT_SUFFIX) and (start is None or key > start):
                    found.append(BronzeObject(key, int(item["Size"])))
    return sorted(found, key=lambda item: item.key)


def logged_keys(
    spark: SparkSession, root: str, stream: str, since: str | None
) -> tuple[set[str], str | None]:
    """Keys logged for `stream` (from `since` on), and the newest logged key overall."""
    log = spark.read.format("delta").load(log_path(root)).where(F.col("stream") == stream)
    newest = log.agg(F.max("bronze_key").alias("newest")).first()["newest"]
    if since:
        log = log.where(F.col("bronze_key") > since)
    return {row["bronze_key"] for row in log.select("bronze_key").collect()}, newest


def new_objects(
    spark: SparkSession,
    settings: Settings,
    root: str,
    bucket: str,
    stream: str,
    lookback_hours: int,
    max_objects: int | None = None,
) -> tuple[list[BronzeObject], int]:
    """Objects not processed yet, oldest first, at most `max_objects`; and how many wait beyond."""
    _, newest = logged_keys(spark, root, stream, None)
    start = listing_start(stream, newest, lookback_hours)
    done, _ = logged_keys(spark, root, stream, start)
    pending = [item for item in list_objects(settings, bucket, stream, start) if item.key not in done]
    if max_objects is not None and len(pending) > max_objects:
        return pending[:max_objects], len(pending) - max_objects
    return pending, 0


def record_processed(spark: SparkSession, root: str, entries: DataFrame) -> None:
    """Log objects as processed (one row per bronze_key, LOG_SCHEMA columns); idempotent."""
    rows = entries.select(*[F.col(f.name).cast(f.dataType) for f in LOG_SCHEMA.fields])
    table = DeltaTable.forPath(spark, log_path(root))
    fault_point("silver.before_bronze_log")
    fence(spark, log_path(root), "logging processed objects in")
    table.alias("t").merge(rows.alias("s"), "t.bronze_key = s.bronze_key").whenNotMatchedInsertAll().execute()


def forget(spark: SparkSession, root: str, keys: Iterable[str]) -> None:
    """Remove objects from the log so the next run processes them again (a replay).

    Replayed lines already in silver or quarantine keep their outcome: nothing is duplicated.
    """
    wanted = sorted(set(keys))
    if wanted:
        fence(spark, log_path(root), "forgetting objects in")
        DeltaTable.forPath(spark, log_path(root)).delete(F.col("bronze_key").isin(wanted))
