"""The tracked file log: where a listing starts, what is logged, and forgetting for a replay."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import functions as F

from spark_jobs.silver import bronze_log

pytestmark = pytest.mark.unit

STREAM = "pos-events"


def _key(day: str, hour: str) -> str:
    return f"raw/{STREAM}/ingest_date={day}/ingest_hour={hour}/shardId-000000000000/1-2.ndjson.gz"


def test_listing_starts_the_lookback_before_the_newest_logged_hour():
    start = bronze_log.listing_start(STREAM, _key("2026-11-22", "01"), lookback_hours=3)
    assert start == f"raw/{STREAM}/ingest_date=2026-11-21/ingest_hour=22/"
    assert _key("2026-11-21", "22") > start > _key("2026-11-21", "21")


def test_listing_covers_each_ingest_date_from_the_start_through_tomorrow():
    start = f"raw/{STREAM}/ingest_date=2026-11-21/ingest_hour=22/"
    assert bronze_log.listing_prefixes(STREAM, start, date(2026, 11, 22)) == [
        f"raw/{STREAM}/ingest_date=2026-11-21/",
        f"raw/{STREAM}/ingest_date=2026-11-22/",
        f"raw/{STREAM}/ingest_date=2026-11-23/",
    ]
    assert bronze_log.listing_prefixes(STREAM, None, date(2026, 11, 22)) == [f"raw/{STREAM}/"]


def test_listing_starts_at_the_beginning_without_a_usable_key():
    assert bronze_log.listing_start(STREAM, None, 24) is None
    assert bronze_log.listing_start(STREAM, "raw/pos-events/odd/object.ndjson.gz", 24) is None


def test_logged_objects_are_skipped_until_forgotten(local_spark, tmp_path):
    root = str(tmp_path)
    bronze_log.ensure_log(local_spark, root)
    entries = local_spark.createDataFrame(
        [
            (_key("2026-11-22", "05"), STREAM, 10, 3, 2, 1, "r1"),
            (_key("2026-11-22", "06"), STREAM, 5, 1, 1, 0, "r1"),
        ],
        "bronze_key string, stream string, size long, lines long, accepted long, quarantined long, "
        "run_id string",
    ).withColumn("processed_at", F.current_timestamp())
    bronze_log.record_processed(local_spark, root, entries)
    bronze_log.record_processed(local_spark, root, entries)  # idempotent
    keys, newest = bronze_log.logged_keys(local_spark, root, STREAM, None)
    assert keys == {_key("2026-11-22", "05"), _key("2026-11-22", "06")}
    assert newest == _key("2026-11-22", "06")
    since, _ = bronze_log.logged_keys(
        local_spark, root, STREAM, f"raw/{STREAM}/ingest_date=2026-11-22/ingest_hour=06/"
    )
    assert since == {_key("2026-11-22", "06")}

    bronze_log.forget(local_spark, root, [_key("2026-11-22", "05")])
    keys, _ = bronze_log.logged_keys(local_spark, root, STREAM, None)
    assert keys == {_key("2026-11-22", "06")}
