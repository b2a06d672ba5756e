"""Poison bronze objects through the real silver job, Spark, Delta and LocalStack S3 (issue 16).

A corrupt gzip object goes to the dead-letter table with its reason, is logged so that no run
takes it again, and the objects beside it are processed as usual.
"""

from __future__ import annotations

import gzip

import pytest

from lakehouse.aws import client
from lakehouse.config import Settings, SilverSettings
from lakehouse.resources import ensure_bucket
from spark_jobs.session import s3a_uri
from spark_jobs.silver import bronze_log
from spark_jobs.silver.dead_letter import CORRUPT_OBJECT, DEAD_LETTER
from spark_jobs.silver.job import SilverRunSummary, run_bronze_to_silver
from spark_jobs.silver.tables import table_path
from tests.support import sample_events as se

pytestmark = pytest.mark.integration

STREAM = se.STREAM
OPTIONS = SilverSettings(
    future_tolerance_seconds=300, lookback_hours=72, max_objects_per_run=0, max_quarantine_share=0.5
)
REFERENCE = [se.store_event("S001"), se.product_event("SKU-00001")]
SALES = [se.sale_event("S001", [se.sale_line(1, "SKU-00001", 2)]) for _ in range(3)]


@pytest.fixture
def lake(localstack: Settings, unique_name: str) -> dict:
    names = {
        "stream": STREAM,
        "bronze_bucket": f"{unique_name}-bronze",
        "silver_bucket": f"{unique_name}-silver",
    }
    ensure_bucket(localstack, names["bronze_bucket"])
    return names


def put(settings: Settings, bucket: str, events: list, first_sequence: int) -> str:
    made = se.bronze_object(events, first_sequence=first_sequence)
    client("s3", settings).put_object(Bucket=bucket, Key=made.key, Body=made.body)
    return made.key


def put_damaged(settings: Settings, bucket: str, first_sequence: int, damage) -> str:
    """A bronze object of one sale whose gzip body `damage` (bytes -> bytes) spoils."""
    made = se.bronze_object([SALES[0]], first_sequence=first_sequence)
    client("s3", settings).put_object(Bucket=bucket, Key=made.key, Body=damage(made.body))
    return made.key


def run(spark, settings: Settings, lake: dict, **extra) -> SilverRunSummary:
    return run_bronze_to_silver(spark, settings, **lake, options=OPTIONS, **extra)


def test_a_corrupt_gzip_object_is_dead_lettered_and_the_run_goes_on(spark, localstack: Settings, lake: dict):
    bucket = lake["bronze_bucket"]
    first = put(localstack, bucket, [*REFERENCE, SALES[0]], first_sequence=1)
    truncated = put_damaged(localstack, bucket, 10, lambda body: body[: len(body) // 2])
    not_gzip = put_damaged(localstack, bucket, 20, lambda body: b"plain text, not gzip\n")
    empty = put_damaged(localstack, bucket, 30, lambda body: gzip.compress(b""))
    last = put(localstack, bucket, SALES[1:], first_sequence=40)

    summary = run(spark, localstack, lake)

    assert summary.objects == 5
    assert summary.accepted_events == len(REFERENCE) + len(SALES)
    assert summary.quarantined == 0
    assert set(summary.dead_letters) == {truncated, not_gzip}
    assert all(text.startswith(f"{CORRUPT_OBJECT}: ") for text in summary.dead_letters.values())
    root = s3a_uri(lake["silver_bucket"])
    letters = {
        row["bronze_key"]: row
        for row in spark.read.format("delta").load(table_path(root, DEAD_LETTER)).collect()
    }
    assert set(letters) == {truncated, not_gzip}
    assert "end-of-stream" in letters[truncated]["detail"]
    assert "Not a gzipped file" in letters[not_gzip]["detail"]
    assert letters[truncated]["run_id"] == summary.run_id and letters[truncated]["size"] > 0
    sales = spark.read.format("delta").load(table_path(root, "sales_lines"))
    assert sales.count() == len(SALES)  # the damaged copies of SALES[0] added nothing

    # Logged, so the next run takes none of them again; the empty object is no dead letter.
    assert bronze_log.logged_keys(spark, root, STREAM, None)[0] == {first, truncated, not_gzip, empty, last}
    assert run(spark, localstack, lake).objects == 0
