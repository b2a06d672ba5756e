"""Poison records at the bronze boundary, through real LocalStack Kinesis, S3 and PostgreSQL (issue 16).

A Kinesis record built to inflate (204 KB of zlib that expands to 200 MB) must not take the
drainer's memory: it is written to bronze whole, as it came, marked `oversize_record`, and its
neighbours go on.
"""

from __future__ import annotations

import json
import tracemalloc
import uuid
import zlib

import pytest

from ingestion.bronze_format import raw_payload
from ingestion.checkpoints import CheckpointStore
from ingestion.drain import bronze_lines, drain
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.contracts.envelope import MAX_BODY_BYTES, OVERSIZE_RECORD, aggregate
from lakehouse.resources import ensure_bucket, ensure_stream

pytestmark = pytest.mark.integration

INFLATED_BYTES = 200 * 1024 * 1024


@pytest.fixture
def lake(localstack: Settings, postgres: Settings, unique_name: str):
    """A fresh one-shard stream and bronze bucket; their checkpoints are forgotten afterwards."""
    ensure_stream(localstack, unique_name, shards=1)
    ensure_bucket(localstack, unique_name)
    yield localstack, unique_name
    client("kinesis", localstack).delete_stream(StreamName=unique_name, EnforceConsumerDeletion=True)
    with CheckpointStore(localstack, unique_name) as store:
        store.reset()


def zlib_bomb(inflated_bytes: int) -> bytes:
    """A one-event aggregate whose zlib body inflates to `inflated_bytes`, built a MiB at a time."""
    deflater = zlib.compressobj(9)
    chunk = b"x" * (1024 * 1024)
    parts = [deflater.compress(b'{"pad":"')]
    parts += [deflater.compress(chunk) for _ in range(inflated_bytes // len(chunk))]
    parts.append(deflater.compress(b'"}') + deflater.flush())
    return b"POSAGG/1 1 zlib\n" + b"".join(parts)


def _event() -> bytes:
    return json.dumps({"event_id": str(uuid.uuid4()), "event_type": "sale"}).encode()


def test_an_oversize_aggregate_is_kept_whole_and_marked_and_memory_stays_bounded(lake):
    settings, name = lake
    bomb = zlib_bomb(INFLATED_BYTES)
    before, after = [_event(), _event()], [_event()]
    kinesis = client("kinesis", settings)
    kinesis.put_record(StreamName=name, PartitionKey="S001", Data=aggregate(before, "zlib"))
    kinesis.put_record(StreamName=name, PartitionKey="S001", Data=bomb)
    kinesis.put_record(StreamName=name, PartitionKey="S001", Data=aggregate(after, "zlib"))
    tracemalloc.start()
    try:
        summary = drain(settings, stream=name, bucket=name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (summary.records, summary.events) == (3, 4)
    # The bomb's 200 MB never exist in the drainer. The peak (about 24 MiB measured) is mostly
    # boto3's service models, loaded by the drain's clients, plus a capped body or two.
    assert peak < INFLATED_BYTES // 4, f"drain peaked at {peak / 2**20:.1f} MiB of Python memory"
    lines = bronze_lines(settings, name, name)
    assert [raw_payload(line) for line in lines] == [*before, bomb, *after]
    kept = lines[2]
    assert (kept["ingest_reason"], kept["payload_encoding"]) == (OVERSIZE_RECORD, "base64")
    assert kept["ingest_detail"] == f"zlib body expands past {MAX_BODY_BYTES} bytes"
    assert all("ingest_reason" not in line for line in lines[:2] + lines[3:])
