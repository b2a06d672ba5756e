"""Read every shard of the POS stream from its checkpoint and write the events to bronze.

`drain()` is one pass: it reads each readable shard until it is caught up (or closed), writes
what it read, and returns a summary; the batch pipeline calls it once, the streaming pipeline
in a loop. Shards are read parents first: after a reshard, a child shard is read only once
its parents are closed and fully written, so per-store order survives resharding.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg2
from botocore.exceptions import ClientError, EndpointConnectionError

from ingestion.bronze_format import BronzeEvent, decode_object, encode_object, object_key, stream_prefix
from ingestion.bronze_store import put_once
from ingestion.checkpoints import Checkpoint, CheckpointStore, StreamIdentity, StreamRecreatedError
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.contracts.envelope import unpack
from lakehouse.faults import fault_point

# Events per bronze object: large enough to keep objects few (silver reads each one),
# small enough to bound the drainer's memory to a few tens of MB.
MAX_EVENTS_PER_OBJECT = 50_000
# Shards read at once. Each has its own reader, batch and checkpoint row; the wait on
# GetRecords and PutObject of one overlaps the other's decoding and compression.
MAX_PARALLEL_SHARDS = 4


class IngestionError(RuntimeError):
    """The drain cannot go on; the message says what is missing and how to fix it."""


@dataclass
class DrainSummary:
    stream: str
    shards: int = 0
    records: int = 0
    events: int = 0
    objects: int = 0
    bytes_written: int = 0
    recovered_objects: int = 0
    closed_shards: list[str] = field(default_factory=list)
    seconds: float = 0.0
    keys: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "keys"}


@dataclass
class _Batch:
    events: list[BronzeEvent] = field(default_factory=list)
    first_sequence: str | None = None
    last_sequence: str | None = None
    records: int = 0


class BronzeWriter:
    """Writes batches of one stream to bronze and advances checkpoints around each write."""

    def __init__(self, settings: Settings, stream: str, bucket: str, store: CheckpointStore) -> None:
        self.stream = stream
        self.bucket = bucket
        self.store = store
        self.s3 = client("s3", settings, stage="ingestion")
        # The PUT is one request, which S3 stores whole or not at all: a process killed while the
        # body is on the wire leaves what a kill just before the send leaves (no object, the key
        # pending). So the fault point sits where botocore has the request built, signed and about
        # to be sent, inside put_object, the latest moment this process can be killed with the
        # object not written.
        self.s3.meta.events.register("before-send.s3.PutObject", _during_put)
        self._summary_lock = threading.Lock()  # shards are written from parallel threads

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def recover(self, checkpoint: Checkpoint) -> tuple[Checkpoint, bool]:
        """Settle a write that a crash interrupted; True if its object was already on S3."""
        if checkpoint.pending_key is None:
            return checkpoint, False
        if self.exists(checkpoint.pending_key):
            return self.store.commit(checkpoint, checkpoint.pending_last_sequence), True
        return self.store.commit(checkpoint, checkpoint.sequence_number), False

    def write(self, checkpoint: Checkpoint, batch: _Batch, summary: DrainSummary) -> Checkpoint:
        ingested_at = datetime.now(UTC)
        key = object_key(
            self.stream, checkpoint.shard_id, batch.first_sequence, batch.last_sequence, ingested_at
        )
        body = encode_object(batch.events, ingested_at)
        pending = self.store.mark_pending(checkpoint, key, batch.last_sequence)
        try:
            put_once(self.s3, self.bucket, key, body)  # False: an earlier attempt stored it, kept
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchBucket":
                raise IngestionError(
                    f"bronze bucket {self.bucket!r} does not exist: create it with `make up` "
                    "(or `make tf-apply`), or set BRONZE_BUCKET in .env"
                ) from None
            raise
        fault_point("bronze.after_put")  # the object is on S3, the checkpoint still pending
        committed = self.store.commit(pending, batch.last_sequence)
        with self._summary_lock:
            summary.objects += 1
            summary.bytes_written += len(body)
            summary.records += batch.records
            summary.events += len(batch.events)
            summary.keys.append(key)
        return committed


def _during_put(**_) -> None:
    """botocore's before-send hook of PutObject; returning None lets the request go."""
    fault_point("bronze.during_put")


def list_shards(kinesis, stream: str) -> list[dict]:
    shards, arguments = [], {"StreamName": stream}
    while True:
        response = kinesis.list_shards(**arguments)
        shards.extend(response["Shards"])
        token = response.get("NextToken")
        if not token:
            return shards
        arguments = {"NextToken": token}


def parents(shard: dict) -> list[str]:
    return [shard[name] for name in ("ParentShardId", "AdjacentParentShardId") if shard.get(name)]


def readable(shard: dict, known: set[str], finished: set[str]) -> bool:
    """A shard may be read once every parent still in the stream is closed and fully written."""
    return all(parent in finished or parent not in known for parent in parents(shard))


def _events_of(record: dict, stream: str, shard_id: str) -> list[BronzeEvent]:
    """The record's events; an oversize aggregate is one event, the record as it came (see unpack)."""
    unpacked = unpack(record["Data"])
    return [
        BronzeEvent(
            stream=stream,
            shard_id=shard_id,
            sequence_number=record["SequenceNumber"],
            subsequence=index,
            partition_key=record["PartitionKey"],
            approximate_arrival=record["ApproximateArrivalTimestamp"],
            payload=payload,
            ingest_reason=unpacked.problem,
            ingest_detail=unpacked.detail,
        )
        for index, payload in enumerate(unpacked.payloads)
    ]


class ShardReader:
    """GetRecords over one shard, renewing expired iterators from the last record read."""

    def __init__(self, kinesis, stream: str, shard_id: str, after_sequence: str | None, limit: int) -> None:
        self.kinesis = kinesis
        self.limit = limit
        self.stream = stream
        self.shard_id = shard_id
        self.position = after_sequence
        self.iterator = self._new_iterator()

    def _new_iterator(self) -> str:
        arguments = {"StreamName": self.stream, "ShardId": self.shard_id}
        if self.position is None:
            arguments["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            arguments["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            arguments["StartingSequenceNumber"] = self.position
        return self.kinesis.get_shard_iterator(**arguments)["ShardIterator"]

    def read(self) -> tuple[list[dict], bool, bool]:
        """(records, caught_up, closed) for one GetRecords call."""
        try:
            response = self.kinesis.get_records(ShardIterator=self.iterator, Limit=self.limit)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExpiredIteratorException":
                raise
            self.iterator = self._new_iterator()
            return [], False, False
        records = response["Records"]
        if records:
            self.position = records[-1]["SequenceNumber"]
        next_iterator = response.get("NextShardIterator")
        closed = next_iterator is None
        if not closed:
            self.iterator = next_iterator
        caught_up = not records and response.get("MillisBehindLatest", 0) == 0
        return records, caught_up, closed


def drain_shard(
    kinesis,
    writer: BronzeWriter,
    checkpoint: Checkpoint,
    summary: DrainSummary,
    max_events: int,
    should_stop: Callable[[], bool],
    read_limit: int,
) -> Checkpoint:
    """Read one shard from its checkpoint until caught up or closed, writing batches of max_events."""
    reader = ShardReader(kinesis, writer.stream, checkpoint.shard_id, checkpoint.sequence_number, read_limit)
    batch = _Batch()

    def flush() -> Checkpoint:
        nonlocal batch
        written = writer.write(checkpoint, batch, summary)
        batch = _Batch()
        return written

    while True:
        records, caught_up, closed = reader.read()
        for record in records:
            # An aggregated record is never split: its events share one sequence number.
            batch.events.extend(_events_of(record, writer.stream, checkpoint.shard_id))
            batch.first_sequence = batch.first_sequence or record["SequenceNumber"]
            batch.last_sequence = record["SequenceNumber"]
            batch.records += 1
            if len(batch.events) >= max_events:
                checkpoint = flush()
        done = caught_up or closed or should_stop()
        if batch.events and done:
            checkpoint = flush()
        if closed:
            summary.closed_shards.append(checkpoint.shard_id)
            return writer.store.commit(checkpoint, checkpoint.sequence_number, closed=True)
        if done:
            return checkpoint


def drain(
    settings: Settings,
    stream: str | None = None,
    bucket: str | None = None,
    max_events_per_object: int = MAX_EVENTS_PER_OBJECT,
    should_stop: Callable[[], bool] = lambda: False,
) -> DrainSummary:
    """One pass over every shard of `stream` into `bucket`; safe to rerun at any point."""
    stream = stream or settings.kinesis_stream
    bucket = bucket or settings.bronze_bucket
    began = time.monotonic()
    summary = DrainSummary(stream)
    kinesis = client("kinesis", settings, stage="ingestion")
    try:
        with CheckpointStore(settings, stream) as store:
            writer = BronzeWriter(settings, stream, bucket, store)
            _drain_all(
                kinesis,
                writer,
                store,
                summary,
                max_events_per_object,
                should_stop,
                settings.kinesis_get_records_limit,
            )
    except EndpointConnectionError as error:
        raise IngestionError(
            f"cannot reach AWS at {error.kwargs.get('endpoint_url')}: is LocalStack running (`make status`)? "
            "Checkpoints are kept; rerun to resume where this run stopped."
        ) from None
    except StreamRecreatedError as error:
        raise IngestionError(str(error)) from None
    except psycopg2.OperationalError as error:
        said = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise IngestionError(
            f"cannot reach PostgreSQL at {settings.postgres_host}:{settings.postgres_port}, which keeps "
            f"the bronze checkpoints ({said}): is it running (`make status`; `make up` starts it)? "
            "Checkpoints are kept; rerun to resume where this run stopped."
        ) from None
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            raise IngestionError(
                f"Kinesis stream {stream!r} not found: create it with `make up` (or `make tf-apply`), "
                "or set KINESIS_STREAM in .env"
            ) from None
        raise
    summary.seconds = time.monotonic() - began
    return summary


def _drain_all(kinesis, writer, store, summary, max_events, should_stop, read_limit) -> None:
    # Before any sequence number is used: the checkpoints must be this stream's.
    checkpoints = store.bind(StreamIdentity.of(kinesis, writer.stream))
    shards = list_shards(kinesis, writer.stream)
    known = {shard["ShardId"] for shard in shards}
    summary.shards = len(shards)
    for shard_id, checkpoint in list(checkpoints.items()):
        checkpoints[shard_id], recovered = writer.recover(checkpoint)
        summary.recovered_objects += recovered
    finished = {shard_id for shard_id, checkpoint in checkpoints.items() if checkpoint.closed}
    progress = True
    while progress and not should_stop():
        progress = False
        ready = [
            shard["ShardId"]
            for shard in shards
            if shard["ShardId"] not in finished and readable(shard, known, finished)
        ]
        if not ready:
            return
        with ThreadPoolExecutor(max_workers=min(len(ready), MAX_PARALLEL_SHARDS)) as pool:
            futures = {
                shard_id: pool.submit(
                    drain_shard,
                    kinesis,
                    writer,
                    checkpoints.get(shard_id) or Checkpoint(shard_id),
                    summary,
                    max_events,
                    should_stop,
                    read_limit,
                )
                for shard_id in ready
            }
        for shard_id, future in futures.items():
            checkpoints[shard_id] = future.result()
            if checkpoints[shard_id].closed:
                finished.add(shard_id)
                progress = True  # its children may be readable now


def bronze_lines(settings: Settings, bucket: str | None = None, stream: str | None = None) -> list[dict]:
    """Every bronze line of `stream` (decoded), for reconciliation and the demo summary."""
    bucket = bucket or settings.bronze_bucket
    s3 = client("s3", settings)
    lines = []
    prefix = stream_prefix(stream or settings.kinesis_stream)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            lines += decode_object(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return lines
