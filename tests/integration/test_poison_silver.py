"""Poison bronze objects through the real silver job, Spark, Delta and LocalStack S3 (issue 16).

A corrupt gzip object goes to the dead-letter table with its reason, is logged so that no run
takes it again, and the objects beside it are processed as usual. A batch failing a critical
quality gate holds its own objects only; later objects flow on; a replay after the fix takes it.
"""

from __future__ import annotations

import gzip

import pytest

from lakehouse.aws import client
from lakehouse.config import Settings, SilverSettings
from lakehouse.resources import ensure_bucket
from spark_jobs.session import s3a_uri
from spark_jobs.silver import bronze_log, held
from spark_jobs.silver.dead_letter import CORRUPT_OBJECT, DEAD_LETTER
from spark_jobs.silver.job import SilverRunSummary, run_bronze_to_silver
from spark_jobs.silver.quality import QUALITY_RESULTS, SUITES, Check
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


def put(settings: Settings, bucket: str, events: list, first_sequence: int, stream: str = STREAM) -> str:
    made = se.bronze_object(events, first_sequence=first_sequence, stream=stream)
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


def test_a_batch_failing_a_critical_gate_is_held_later_objects_flow_and_replay_takes_it(
    spark, localstack: Settings, lake: dict
):
    # Held objects are kept per stream, as Kinesis checkpoints are: a stream of this test's own.
    stream = f"held-{lake['bronze_bucket']}"
    lake = {**lake, "stream": stream}
    bucket, root = lake["bronze_bucket"], s3a_uri(lake["silver_bucket"])
    first = put(localstack, bucket, [*REFERENCE, SALES[0]], first_sequence=1, stream=stream)
    strict = dict(SUITES)
    strict["sales_lines"] = (
        Check("expect_column_values_to_be_between", {"column": "quantity", "max_value": 1}),
    )

    held_run = run(spark, localstack, lake, suites=strict)

    assert held_run.held_objects == [first]
    assert "sales_lines: expect_column_values_to_be_between(column=quantity, max_value=1)" in (
        held_run.held_reason
    )
    assert spark.read.format("delta").load(table_path(root, "sales_lines")).count() == 0
    assert bronze_log.logged_keys(spark, root, stream, None)[0] == set()
    results = spark.read.format("delta").load(table_path(root, QUALITY_RESULTS))
    assert results.where("not success and severity = 'critical'").count() == 1
    assert [(item.bronze_key, item.status) for item in held.open_objects(localstack, stream)] == [
        (first, held.HELD)
    ]
    assert first in held.status_line(localstack)

    # Later objects flow on with the gate as it is: the held object is not taken again.
    later = put(localstack, bucket, [se.store_event("S002")], first_sequence=10, stream=stream)
    flowed = run(spark, localstack, lake, suites=strict)
    assert (flowed.objects, flowed.held_objects) == (1, [])
    assert bronze_log.logged_keys(spark, root, stream, None)[0] == {later}

    # After the fix (the suites as shipped), one replay takes the held object and settles it.
    assert held.request_replay(localstack, stream) == 1
    replayed = run(spark, localstack, lake)
    assert (replayed.objects, replayed.inserted_rows["sales_lines"]) == (1, 1)
    assert held.open_objects(localstack, stream) == []
    assert run(spark, localstack, lake).objects == 0
