"""kill -9 of the lake's S3 server, then a restart the way `make up` does it: nothing acknowledged is lost.

The test starts a private S3 server (own port, own data folder under tmp_path) so it never kills
the shared stack's; LocalStack (Kinesis) and PostgreSQL (checkpoints) are the shared ones. Bronze
is written by the real drain from a real stream, silver by the real job through Spark and Delta.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest

from ingestion.checkpoints import CheckpointStore
from ingestion.drain import drain
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.resources import ensure_bucket, ensure_stream
from ops.stack import process
from ops.stack.cli import start_native
from ops.stack.components import S3Server
from spark_jobs.session import s3a_uri
from spark_jobs.silver.job import run_bronze_to_silver
from spark_jobs.silver.tables import EVENT_TABLES, QUARANTINE, table_path
from tests.support import sample_events as se

pytestmark = pytest.mark.integration

TABLES = (*[spec.name for spec in EVENT_TABLES], QUARANTINE)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_lake(localstack: Settings, postgres: Settings, unique_name: str, tmp_path: Path, spark):
    """Settings whose S3 is a private S3 server on a spare port, and a stream of their own."""
    port = _free_port()
    lake = dataclasses.replace(
        localstack,
        stack_run_dir=tmp_path,
        s3_port=port,
        aws_endpoint_url_s3=f"http://{localstack.s3_host}:{port}",
        kinesis_stream=unique_name,
        bronze_bucket=f"{unique_name}-bronze",
        silver_bucket=f"{unique_name}-silver",
    )
    server = S3Server(lake)
    start_native(lake, ["s3"], log=lambda message: None)
    # The session's SparkSession talks to the shared S3 server; S3A's per-bucket options send
    # these two buckets to the private one.
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for bucket in (lake.bronze_bucket, lake.silver_bucket):
        hadoop.set(f"fs.s3a.bucket.{bucket}.endpoint", lake.aws_endpoint_url_s3)
    ensure_stream(lake, shards=2)
    ensure_bucket(lake, lake.bronze_bucket)
    yield lake, server
    server.stop()
    client("kinesis", lake).delete_stream(StreamName=lake.kinesis_stream, EnforceConsumerDeletion=True)
    with CheckpointStore(lake, lake.kinesis_stream) as store:
        store.reset()


def _put_events(settings: Settings, events: list[dict]) -> None:
    kinesis = client("kinesis", settings)
    records = [
        {"Data": json.dumps(event), "PartitionKey": event.get("store_id") or "catalog"} for event in events
    ]
    response = kinesis.put_records(StreamName=settings.kinesis_stream, Records=records)
    assert response["FailedRecordCount"] == 0


def _bronze_objects(settings: Settings) -> dict[str, str]:
    """Every bronze object: key -> SHA-256 of its bytes, as read back through the S3 API."""
    s3 = client("s3", settings)
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bronze_bucket):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=settings.bronze_bucket, Key=item["Key"])["Body"].read()
            objects[item["Key"]] = hashlib.sha256(body).hexdigest()
    return objects


def _silver_run(spark, lake: Settings):
    names = {"bronze_bucket": lake.bronze_bucket, "silver_bucket": lake.silver_bucket}
    return run_bronze_to_silver(spark, lake, stream=lake.kinesis_stream, **names)


def _silver_rows(spark, settings: Settings) -> dict[str, list]:
    root = s3a_uri(settings.silver_bucket)
    rows = {}
    for name in TABLES:
        frame = spark.read.format("delta").load(table_path(root, name))
        rows[name] = sorted(tuple(str(value) for value in row) for row in frame.collect())
    return rows


def test_acknowledged_bronze_and_silver_survive_a_kill_9_of_the_s3_server(spark, private_lake):
    lake, server = private_lake
    store = "S001"
    reference = [se.store_event(store), *[se.product_event(f"SKU-0000{n}") for n in (1, 2)]]
    sales = [se.sale_event(store, [se.sale_line(1, "SKU-00001", n % 3 + 1)]) for n in range(40)]
    _put_events(lake, reference)
    first = drain(lake)
    _put_events(lake, sales)
    second = drain(lake)
    assert first.events + second.events == len(reference) + len(sales)
    summary = _silver_run(spark, lake)
    assert summary.bronze_lines == len(reference) + len(sales)
    bronze_before = _bronze_objects(lake)
    silver_before = _silver_rows(spark, lake)
    assert len(bronze_before) == first.objects + second.objects >= 2
    assert len(silver_before["sales_lines"]) == len(sales)

    # An upload cut short by the kill leaves `<key>-<uuid>`: never acknowledged, swept on start.
    interrupted = server.data_dir / lake.bronze_bucket / f"raw/partial.ndjson.gz-{uuid.uuid4()}"
    interrupted.parent.mkdir(parents=True, exist_ok=True)
    interrupted.write_bytes(b"half an object")

    record = process.read_pid(server.pid_file)
    assert record is not None, "the private S3 server is not running"
    os.kill(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server.health().ok and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not server.health().ok, "the S3 server still answers after SIGKILL"

    started = start_native(lake, ["s3"], log=lambda message: None)
    assert [component.name for component in started] == ["s3"]
    assert not interrupted.exists()
    assert _bronze_objects(lake) == bronze_before
    assert _silver_rows(spark, lake) == silver_before
    # And the lake takes new work after the restart: a rerun finds nothing new and changes nothing.
    rerun = _silver_run(spark, lake)
    assert rerun.bronze_lines == 0
    assert _silver_rows(spark, lake) == silver_before
