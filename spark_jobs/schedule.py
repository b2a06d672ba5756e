"""What the every-minute schedules ask before they start Spark: is there anything new to process?

bronze_to_silver has work when its last run left objects waiting or a bronze object was written
since that run began listing; silver_to_gold has work when silver wrote rows since gold's last
run began. Both answers come from an S3 listing and one PostgreSQL row (`lakehouse.progress`),
in well under a second, so an idle stack stays idle. A stage with no recorded run runs once its
input exists: silver when bronze holds an object of the stream, gold when silver holds a table.

The scheduled runs record their progress (`record_silver_run`, `record_gold_run`), and so does
the continuous path (spark_jobs/live.py), so the schedules know what pos_live already did.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingestion.bronze_format import stream_prefix
from lakehouse import progress
from lakehouse.aws import client
from lakehouse.config import Settings
from spark_jobs.silver.bronze_log import listing_prefixes
from spark_jobs.silver.job import SilverRunSummary

SILVER, GOLD = "silver", "gold"


def newest_bronze_write(settings: Settings, bucket: str, stream: str, since: datetime) -> datetime | None:
    """When the newest bronze object of `stream` written around or after `since` was written."""
    start = since - timedelta(hours=1)
    first_key = f"ingest_date={start:%Y-%m-%d}/ingest_hour={start:%H}/"
    paginator = client("s3", settings, stage="spark").get_paginator("list_objects_v2")
    newest = None
    for prefix in listing_prefixes(stream, first_key, datetime.now(UTC).date()):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                newest = max(newest or item["LastModified"], item["LastModified"])
    return newest


def nothing_under(settings: Settings, bucket: str, prefix: str = "") -> bool:
    """True when `bucket` holds no object under `prefix`: one listing of at most one key."""
    listing = client("s3", settings, stage="spark").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return listing.get("KeyCount", 0) == 0


def silver_work(settings: Settings, stream: str, bronze_bucket: str, silver_bucket: str) -> str | None:
    """Why bronze_to_silver should run now, or None when nothing arrived since its last run.

    A stage that never ran waits for its first bronze object: a fresh stack starts no Spark.
    """
    last = progress.read(settings, SILVER, silver_bucket)
    if last is None:
        empty = nothing_under(settings, bronze_bucket, stream_prefix(stream))
        return None if empty else "no earlier run recorded"
    if last.backlog:
        return f"{last.backlog} bronze objects left by the last run"
    newest = newest_bronze_write(settings, bronze_bucket, stream, last.looked_at)
    if progress.is_new(newest, last.looked_at):
        return f"bronze object written at {newest:%Y-%m-%d %H:%M:%S}"
    return None


def gold_work(settings: Settings, schema: str, silver_bucket: str) -> str | None:
    """Why silver_to_gold should run now, or None when silver wrote nothing since its last run.

    A gold that never loaded waits for silver's first table, and a gold that did waits for
    silver's first recorded run: a fresh stack starts no Spark, and gold does not start Spark
    every minute beside a long first silver run (the demo's backfill) that it cannot read yet.
    """
    last = progress.read(settings, GOLD, schema)
    if last is None:
        empty = nothing_under(settings, silver_bucket)
        return None if empty else "no earlier run recorded"
    silver = progress.read(settings, SILVER, silver_bucket)
    if silver is None:  # silver's first run is still going (or never ran): it records when done
        return None
    if progress.is_new(silver.wrote_at, last.looked_at):
        return f"silver wrote at {silver.wrote_at:%Y-%m-%d %H:%M:%S}"
    return None


def record_silver_run(settings: Settings, began: datetime, summary: SilverRunSummary) -> None:
    """After a successful silver run that began listing bronze at `began`."""
    wrote_at = datetime.now(UTC) if summary.bronze_lines else None
    progress.record(
        settings,
        SILVER,
        summary.silver_bucket,
        looked_at=began,
        backlog=summary.objects_waiting,
        wrote_at=wrote_at,
    )


def record_gold_run(settings: Settings, schema: str, began: datetime) -> None:
    """After a successful gold run that began reading silver at `began`."""
    progress.record(settings, GOLD, schema, looked_at=began, backlog=0, wrote_at=datetime.now(UTC))
