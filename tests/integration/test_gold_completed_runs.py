"""Gold reads silver's completed runs only: a silver run killed between two table commits, gold in between.

The run is a real process killed with SIGKILL (FAULT_AT=silver.after_merge) right after its
first MERGE: its late sales are in silver, its delivery and its bronze log records are not.
Gold run in between leaves those partial rows out (their run did not complete); the rerun
matches them instead of inserting them again, completes, and the next gold run takes them with
the rerun's own rows, however late their event days: gold's sales end equal to silver's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest

from lakehouse.aws import client
from lakehouse.config import REPO_ROOT, Settings, SilverSettings
from lakehouse.db import connect
from spark_jobs.gold.job import run_silver_to_gold
from spark_jobs.gold.migrate import migrate
from spark_jobs.silver.job import run_bronze_to_silver
from tests.support import sample_events as se

pytestmark = pytest.mark.integration

OPTIONS = SilverSettings(
    future_tolerance_seconds=300, lookback_hours=72, max_objects_per_run=0, max_quarantine_share=0.5
)
REFERENCE = [se.store_event("S001"), *[se.product_event(f"SKU-0000{n}") for n in (1, 2)]]
FIRST = [
    *REFERENCE,
    se.sale_event("S001", [se.sale_line(1, "SKU-00001", 2)]),
    se.stock_count_event("S001", [("SKU-00001", 30), ("SKU-00002", 20)]),
]
# Sales a week late (outside any window gold would reread on its own) and a delivery.
LATE_SALE = se.sale_event("S001", [se.sale_line(1, "SKU-00002", 3)], when=se.T0 - timedelta(days=7))
SECOND = [LATE_SALE, se.delivery_event("S001", [("SKU-00001", 24)])]

_KILLED_RUN = """
import sys
from lakehouse.config import SilverSettings, load_settings
from spark_jobs.session import spark_session
from spark_jobs.silver.job import run_bronze_to_silver
settings = load_settings()
options = SilverSettings(future_tolerance_seconds=300, lookback_hours=72, max_objects_per_run=0,
                         max_quarantine_share=0.5)
run_bronze_to_silver(spark_session("killed-silver", settings), settings, stream=sys.argv[1],
                     bronze_bucket=sys.argv[2], silver_bucket=sys.argv[3], options=options)
"""


def _put(settings: Settings, bucket: str, events: list, first_sequence: int) -> None:
    made = se.bronze_object(events, first_sequence=first_sequence)
    client("s3", settings).put_object(Bucket=bucket, Key=made.key, Body=made.body)


def _gold_sales(settings: Settings, schema: str) -> set[tuple[str, int]]:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(f'select event_id, line_number from "{schema}".fact_sales')
        return set(cursor.fetchall())


def _silver_sales(spark, bucket: str) -> set[tuple[str, int]]:
    table = spark.read.format("delta").load(f"s3a://{bucket}/sales_lines")
    return {(row.event_id, row.line_number) for row in table.select("event_id", "line_number").collect()}


@pytest.fixture
def world(own_lake, postgres: Settings):
    name = f"done{uuid.uuid4().hex[:8]}"
    lake = own_lake(name)
    schema = f"gold_{name}"
    migrate(lake, schema, log=lambda message: None)
    yield lake, schema
    with connect(lake, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(f'drop schema if exists "{schema}" cascade')


def test_gold_waits_for_a_cut_short_silver_run_and_takes_its_rows_after_the_rerun(spark, world):
    lake, schema = world
    names = {"stream": se.STREAM, "bronze_bucket": lake.bronze_bucket, "silver_bucket": lake.silver_bucket}
    _put(lake, lake.bronze_bucket, FIRST, first_sequence=1)
    run_bronze_to_silver(spark, lake, **names, options=OPTIONS)
    run_silver_to_gold(spark, lake, lake.silver_bucket, schema=schema, publish=False)
    assert _gold_sales(lake, schema) == _silver_sales(spark, lake.silver_bucket)

    _put(lake, lake.bronze_bucket, SECOND, first_sequence=100)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, se.STREAM, lake.bronze_bucket, lake.silver_bucket],
        cwd=REPO_ROOT,
        env={**os.environ, "FAULT_AT": "silver.after_merge"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    partial = _silver_sales(spark, lake.silver_bucket)
    assert (LATE_SALE["event_id"], 1) in partial  # its first table was committed, then the kill

    run_silver_to_gold(spark, lake, lake.silver_bucket, schema=schema, publish=False)
    assert (LATE_SALE["event_id"], 1) not in _gold_sales(lake, schema)  # its run did not complete

    rerun = run_bronze_to_silver(spark, lake, **names, options=OPTIONS)
    assert rerun.inserted_rows["sales_lines"] == 0 and rerun.inserted_rows["deliveries"] == 1
    run_silver_to_gold(spark, lake, lake.silver_bucket, schema=schema, publish=False)
    assert _gold_sales(lake, schema) == _silver_sales(spark, lake.silver_bucket) == partial
