"""Kinesis to bronze through real LocalStack and PostgreSQL: nothing lost, nothing written twice."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest

from ingestion import drain as drain_module
from ingestion.bronze_format import raw_payload
from ingestion.bronze_store import put_once
from ingestion.checkpoints import CheckpointStore
from ingestion.drain import IngestionError, bronze_lines, drain
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.resources import ensure_bucket, ensure_stream
from ops.mage import run_pipeline

pytestmark = pytest.mark.integration

MALFORMED = b'{"event_id": "broken", "lines": ['


class SimulatedCrash(RuntimeError):
    pass


@pytest.fixture
def lake(localstack: Settings, postgres: Settings, unique_name: str):
    """A fresh two-shard stream and bronze bucket; their checkpoints are forgotten afterwards."""
    ensure_stream(localstack, unique_name, shards=2)
    ensure_bucket(localstack, unique_name)
    yield localstack, unique_name
    client("kinesis", localstack).delete_stream(StreamName=unique_name, EnforceConsumerDeletion=True)
    with CheckpointStore(localstack, unique_name) as store:
        store.reset()


def put_events(settings: Settings, stream: str, count: int, stores: int = 7) -> list[str]:
    """Put `count` JSON events, one per record, keyed by store; returns their event ids."""
    kinesis = client("kinesis", settings)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for start in range(0, count, 500):
        records = [
            {
                "Data": json.dumps(
                    {"event_id": event_id, "event_type": "sale", "store_id": f"S{i % stores:03d}"}
                ),
                "PartitionKey": f"S{i % stores:03d}",
            }
            for i, event_id in enumerate(ids[start : start + 500], start=start)
        ]
        response = kinesis.put_records(StreamName=stream, Records=records)
        assert response["FailedRecordCount"] == 0
    return ids


def event_ids(lines: list[dict]) -> Counter:
    return Counter(
        json.loads(raw_payload(line))["event_id"] for line in lines if raw_payload(line) != MALFORMED
    )


def test_drain_writes_every_event_once_and_a_rerun_adds_nothing(lake):
    settings, name = lake
    ids = put_events(settings, name, 1200)
    first = drain(settings, stream=name, bucket=name, max_events_per_object=500)
    assert first.events == 1200
    assert first.shards == 2
    assert first.objects >= 3  # batches of at most 500 events
    second = drain(settings, stream=name, bucket=name)
    assert (second.events, second.objects) == (0, 0)
    lines = bronze_lines(settings, name, name)
    assert event_ids(lines) == Counter(ids)
    assert {line["shard_id"] for line in lines} == {"shardId-000000000000", "shardId-000000000001"}
    assert all(line["sequence_number"] and line["approximate_arrival"] for line in lines)


def test_new_events_are_picked_up_from_the_checkpoint(lake):
    settings, name = lake
    ids = put_events(settings, name, 300)
    drain(settings, stream=name, bucket=name)
    ids += put_events(settings, name, 200)
    assert drain(settings, stream=name, bucket=name).events == 200
    assert event_ids(bronze_lines(settings, name, name)) == Counter(ids)


def test_crash_between_object_write_and_checkpoint_leaves_no_duplicate(lake, monkeypatch):
    settings, name = lake
    ids = put_events(settings, name, 400)
    real_commit = CheckpointStore.commit
    calls = {"n": 0}

    def crash_after_first_object(self, current, last_sequence, closed=False):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SimulatedCrash("process died after writing the object, before the checkpoint")
        return real_commit(self, current, last_sequence, closed)

    monkeypatch.setattr(CheckpointStore, "commit", crash_after_first_object)
    with pytest.raises(SimulatedCrash):
        drain(settings, stream=name, bucket=name, max_events_per_object=100)
    monkeypatch.setattr(CheckpointStore, "commit", real_commit)

    rerun = drain(settings, stream=name, bucket=name, max_events_per_object=100)
    assert rerun.recovered_objects == 1
    assert event_ids(bronze_lines(settings, name, name)) == Counter(ids)


def test_crash_before_the_object_is_written_loses_nothing(lake, monkeypatch):
    settings, name = lake
    ids = put_events(settings, name, 250)

    def crash_on_put(self, *args, **kwargs):
        raise SimulatedCrash("process died before the object reached S3")

    monkeypatch.setattr(drain_module.BronzeWriter, "write", crash_on_put)
    with pytest.raises(SimulatedCrash):
        drain(settings, stream=name, bucket=name)
    monkeypatch.undo()
    assert drain(settings, stream=name, bucket=name).events == 250
    assert event_ids(bronze_lines(settings, name, name)) == Counter(ids)


def test_malformed_payloads_arrive_raw(lake):
    settings, name = lake
    kinesis = client("kinesis", settings)
    kinesis.put_record(StreamName=name, PartitionKey="S001", Data=MALFORMED)
    kinesis.put_record(StreamName=name, PartitionKey="S001", Data=b"\xff\x00 not even text")
    drain(settings, stream=name, bucket=name)
    payloads = sorted(raw_payload(line) for line in bronze_lines(settings, name, name))
    assert payloads == sorted([MALFORMED, b"\xff\x00 not even text"])


def test_reshard_mid_stream_loses_nothing(lake):
    settings, name = lake
    kinesis = client("kinesis", settings)
    ids = put_events(settings, name, 300)
    drain(settings, stream=name, bucket=name)
    ids += put_events(settings, name, 200)  # still in the parents when they close
    kinesis.update_shard_count(StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ids += put_events(settings, name, 400)  # into the children
    summary = drain(settings, stream=name, bucket=name)
    assert summary.shards > 2
    assert len(summary.closed_shards) == 2
    assert event_ids(bronze_lines(settings, name, name)) == Counter(ids)
    assert drain(settings, stream=name, bucket=name).events == 0


def test_missing_stream_is_named_with_a_fix(localstack: Settings, postgres: Settings, unique_name: str):
    with pytest.raises(IngestionError, match=rf"stream '{unique_name}' not found: create it with `make up`"):
        drain(localstack, stream=unique_name, bucket=unique_name)


def test_missing_bucket_is_named_with_a_fix(lake):
    settings, name = lake
    put_events(settings, name, 5)
    with pytest.raises(IngestionError, match="bronze bucket 'no-such-bucket-here' does not exist"):
        drain(settings, stream=name, bucket="no-such-bucket-here")
    assert drain(settings, stream=name, bucket=name).events == 5, "the failed run advanced no checkpoint"


def test_mage_pipeline_drains_the_stream(lake):
    settings, name = lake
    ids = put_events(settings, name, 150)
    run = run_pipeline("kinesis_to_bronze", variables={"stream": name, "bucket": name}, settings=settings)
    assert run.succeeded, run.output[-3000:]
    assert event_ids(bronze_lines(settings, name, name)) == Counter(ids)


def test_a_bronze_object_is_never_replaced(lake):
    """A second PUT of a bronze key (a retry whose first attempt was stored) keeps the first object."""
    settings, name = lake
    s3 = client("s3", settings, stage="ingestion")
    key = f"raw/{name}/ingest_date=2026-12-01/ingest_hour=08/shardId-000000000000/1-2.ndjson.gz"
    assert put_once(s3, name, key, b"first") is True
    assert put_once(s3, name, key, b"second") is False
    assert s3.get_object(Bucket=name, Key=key)["Body"].read() == b"first"
