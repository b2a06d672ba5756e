"""Bronze on LocalStack S3 -> silver Delta tables, through the real job, Spark and Delta (and Mage once).

Each test uses buckets of its own. What is checked: tables and quarantine after a run, rerun =
no change, replay = no duplicate, bronze lines = silver events + quarantined rows counted from
the tables themselves (a critical Great Expectations failure holds its batch:
test_poison_silver.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ingestion.bronze_format import decode_object, stream_prefix
from lakehouse.aws import client
from lakehouse.config import Settings, SilverSettings
from lakehouse.locks import stage_lock
from lakehouse.resources import ensure_bucket
from ops.mage import run_pipeline
from spark_jobs.session import s3a_uri
from spark_jobs.silver import bronze_log, reasons
from spark_jobs.silver.job import SilverRunSummary, run_bronze_to_silver
from spark_jobs.silver.maintenance import compact_and_vacuum
from spark_jobs.silver.tables import EVENT_TABLES, QUARANTINE, table_path
from tests.support import sample_events as se

pytestmark = pytest.mark.integration

STREAM = se.STREAM
OPTIONS = SilverSettings(
    future_tolerance_seconds=300, lookback_hours=72, max_objects_per_run=0, max_quarantine_share=0.5
)
TABLES = (*[spec.name for spec in EVENT_TABLES], QUARANTINE)

REFERENCE = [se.store_event("S001"), *[se.product_event(f"SKU-0000{n}") for n in (1, 2, 3)]]
SALE = se.sale_event("S001", [se.sale_line(1, "SKU-00001", 2, "3.49", "0.50"), se.sale_line(2, "SKU-00002")])
LATE_SALE = se.sale_event("S001", [se.sale_line(1, "SKU-00003", 1)], when=se.T0 - timedelta(days=2))
DELIVERY = se.delivery_event("S001", [("SKU-00001", 24), ("SKU-00002", 12)])
COUNT = se.stock_count_event("S001", [("SKU-00001", 7), ("SKU-00003", 0)])
BAD = [
    '{"event_id": "broken',
    se.sale_event("S001", [se.sale_line(1, "SKU-00001", 0)]),
    se.sale_event("S404", [se.sale_line(1, "SKU-00001")]),
    se.sale_event("S001", [se.sale_line(1, "SKU-99999")]),
]
ORDER = se.purchase_order_event("S001", [("SKU-00001", 24), ("SKU-00002", 12)])
PROMOTION = se.promotion_event("PR-02917-01", ["SKU-00001", "SKU-00002"])
# The same promotion_id announced again with other content by another event.
PROMOTION_AGAIN = se.promotion_event("PR-02917-01", ["SKU-00003"], discount_percent=30)
# The line after SALE repeats it; orders and promotions follow, so earlier line numbers stay.
FIRST = [*REFERENCE, SALE, LATE_SALE, DELIVERY, COUNT, *BAD, SALE, ORDER, PROMOTION, PROMOTION_AGAIN]


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


def run(spark, settings: Settings, lake: dict, **extra) -> SilverRunSummary:
    return run_bronze_to_silver(spark, settings, **lake, options=OPTIONS, **extra)


def bronze_line_count(settings: Settings, bucket: str) -> int:
    s3 = client("s3", settings)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=stream_prefix(STREAM))["Contents"]
    return sum(
        len(decode_object(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())) for item in listed
    )


def table_state(spark, silver_bucket: str) -> dict:
    """Rows and Delta version of each table: what must not move on a rerun."""
    root = s3a_uri(silver_bucket)
    state = {}
    for name in TABLES:
        path = table_path(root, name)
        version = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").first()["version"]
        state[name] = (spark.read.format("delta").load(path).count(), version)
    return state


def silver_events_plus_quarantine(spark, silver_bucket: str) -> int:
    root = s3a_uri(silver_bucket)
    read = spark.read.format("delta")
    events = sum(
        read.load(table_path(root, spec.name)).select("event_id").distinct().count() for spec in EVENT_TABLES
    )
    return events + read.load(table_path(root, QUARANTINE)).count()


def test_bronze_to_silver_then_rerun_replay_and_maintenance(spark, localstack: Settings, lake: dict):
    first_key = put(localstack, lake["bronze_bucket"], FIRST, first_sequence=1)
    summary = run(spark, localstack, lake)

    assert summary.objects == 1
    assert (summary.bronze_lines, summary.accepted_events, summary.quarantined) == (len(FIRST), 10, 6)
    assert summary.reconciliation_holds
    assert summary.inserted_rows == {
        "sales_lines": 3,
        "deliveries": 2,
        "stock_counts": 2,
        "stores": 1,
        "products": 3,
        "purchase_orders": 2,
        "promotions": 2,
        "quarantine": 6,
    }
    assert summary.quarantine_by_reason == {
        reasons.MALFORMED_JSON: 1,
        reasons.NON_POSITIVE_QUANTITY: 1,
        reasons.UNKNOWN_STORE: 1,
        reasons.UNKNOWN_SKU: 1,
        reasons.DUPLICATE_EVENT_ID: 1,
        reasons.DUPLICATE_PROMOTION_ID: 1,
    }
    root = s3a_uri(lake["silver_bucket"])
    sales = spark.read.format("delta").load(table_path(root, "sales_lines"))
    late = sales.where(f"event_id = '{LATE_SALE['event_id']}'").first()
    assert str(late["event_date"]) == str((se.T0 - timedelta(days=2)).date())
    quarantine = spark.read.format("delta").load(table_path(root, QUARANTINE))
    broken = quarantine.where(f"reason = '{reasons.MALFORMED_JSON}'").first()
    assert (broken["payload"], broken["bronze_key"], broken["bronze_line"]) == (BAD[0], first_key, 9)
    assert silver_events_plus_quarantine(spark, lake["silver_bucket"]) == bronze_line_count(
        localstack, lake["bronze_bucket"]
    )

    # Rerun: nothing new in bronze, nothing changes in silver.
    before = table_state(spark, lake["silver_bucket"])
    assert run(spark, localstack, lake).objects == 0
    assert table_state(spark, lake["silver_bucket"]) == before

    # Replay: the same events arrive again in a new object, with one new sale.
    # A promotion already in silver, announced again by a new event, is not a second promotion.
    new_sale = se.sale_event("S001", [se.sale_line(1, "SKU-00003", 4)])
    announced_again = se.promotion_event("PR-02917-01", ["SKU-00001", "SKU-00002"])
    put(
        localstack,
        lake["bronze_bucket"],
        [SALE, DELIVERY, new_sale, ORDER, announced_again],
        first_sequence=100,
    )
    replay = run(spark, localstack, lake)
    assert replay.inserted_rows["sales_lines"] == 1
    assert replay.inserted_rows["deliveries"] == replay.inserted_rows["purchase_orders"] == 0
    assert replay.inserted_rows["promotions"] == 0
    assert replay.quarantine_by_reason == {reasons.DUPLICATE_EVENT_ID: 3, reasons.DUPLICATE_PROMOTION_ID: 1}
    promotions = spark.read.format("delta").load(table_path(root, "promotions"))
    assert {(row["event_id"], row["sku"], row["discount_percent"]) for row in promotions.collect()} == {
        (PROMOTION["event_id"], "SKU-00001", 20),
        (PROMOTION["event_id"], "SKU-00002", 20),
    }
    assert sales.where(f"event_id = '{SALE['event_id']}'").count() == 2  # its two lines, once each

    # Reprocessing an object already taken (forgotten by the log) changes nothing either.
    before = table_state(spark, lake["silver_bucket"])
    with stage_lock(localstack, "silver", lake["silver_bucket"]):  # a replay writes the log: under the stage
        bronze_log.forget(spark, root, [first_key])
    again = run(spark, localstack, lake)
    assert again.objects == 1 and again.reconciliation_holds
    assert {name: count for name, count in again.inserted_rows.items() if count} == {}
    assert {name: rows for name, (rows, _) in table_state(spark, lake["silver_bucket"]).items()} == {
        name: rows for name, (rows, _) in before.items()
    }
    assert silver_events_plus_quarantine(spark, lake["silver_bucket"]) == bronze_line_count(
        localstack, lake["bronze_bucket"]
    )

    # Compaction and vacuum keep every row.
    rows_before = {name: rows for name, (rows, _) in table_state(spark, lake["silver_bucket"]).items()}
    with stage_lock(localstack, "silver", lake["silver_bucket"]):
        compacted = compact_and_vacuum(spark, root, tables=("sales_lines", QUARANTINE))
    assert compacted["sales_lines"]["files_now"] >= 1
    rows_after = {name: rows for name, (rows, _) in table_state(spark, lake["silver_bucket"]).items()}
    assert rows_after == rows_before


def test_the_mage_pipeline_runs_the_job(spark, localstack: Settings, lake: dict):
    put(localstack, lake["bronze_bucket"], [*REFERENCE, SALE, DELIVERY], first_sequence=1)
    result = run_pipeline("bronze_to_silver", variables=lake, settings=localstack)
    assert result.succeeded, result.output[-4000:]
    assert "1/1 tests passed" in result.output
    root = s3a_uri(lake["silver_bucket"])
    assert spark.read.format("delta").load(table_path(root, "sales_lines")).count() == 2
    assert silver_events_plus_quarantine(spark, lake["silver_bucket"]) == len(REFERENCE) + 2
