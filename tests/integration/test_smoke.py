"""Each part of the stack is real: LocalStack S3 and Kinesis, PostgreSQL, Spark with Delta on S3, Mage."""

from __future__ import annotations

import time

import pytest

from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.resources import ensure_bucket, ensure_stream
from ops.mage import run_pipeline
from spark_jobs.session import s3a_uri

pytestmark = pytest.mark.integration


def test_s3_put_and_get(localstack: Settings, unique_name: str):
    ensure_bucket(localstack, unique_name)
    s3 = client("s3", localstack)
    s3.put_object(Bucket=unique_name, Key="hello/world.json", Body=b'{"ok": true}')
    assert s3.get_object(Bucket=unique_name, Key="hello/world.json")["Body"].read() == b'{"ok": true}'


def test_kinesis_put_and_get(localstack: Settings, unique_name: str):
    ensure_stream(localstack, unique_name, shards=1)
    kinesis = client("kinesis", localstack)
    try:
        put = kinesis.put_record(StreamName=unique_name, PartitionKey="store-1", Data=b"sale-1")
        iterator = kinesis.get_shard_iterator(
            StreamName=unique_name,
            ShardId=put["ShardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=put["SequenceNumber"],
        )["ShardIterator"]
        records = []
        deadline = time.monotonic() + 20
        while not records and time.monotonic() < deadline:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10)
            records, iterator = response["Records"], response["NextShardIterator"]
        assert [record["Data"] for record in records] == [b"sale-1"]
    finally:
        kinesis.delete_stream(StreamName=unique_name, EnforceConsumerDeletion=True)


def test_postgres_query(postgres: Settings):
    with connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute("select current_database(), 6 * 7")
        assert cursor.fetchone() == (postgres.postgres_db, 42)


def test_spark_writes_and_reads_delta_on_s3(spark, localstack: Settings, unique_name: str):
    ensure_bucket(localstack, unique_name)
    path = s3a_uri(unique_name, "smoke", "numbers")
    frame = spark.createDataFrame([(1, "one"), (2, "two"), (3, "three")], "id INT, name STRING")
    frame.write.format("delta").mode("overwrite").save(path)
    read_back = spark.read.format("delta").load(path)
    assert sorted(tuple(row) for row in read_back.collect()) == [(1, "one"), (2, "two"), (3, "three")]
    keys = [item["Key"] for item in client("s3", localstack).list_objects_v2(Bucket=unique_name)["Contents"]]
    assert any(key.startswith("smoke/numbers/_delta_log/") for key in keys), keys


def test_mage_runs_a_pipeline_that_reaches_the_services(localstack: Settings, postgres: Settings):
    run = run_pipeline("stack_smoke", settings=localstack)
    assert run.succeeded, run.output[-3000:]
    assert "1/1 tests passed" in run.output
