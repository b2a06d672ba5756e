"""Per-shard checkpoints in PostgreSQL, with a write-ahead 'pending' object and a drain lock.

Why PostgreSQL rather than an S3 object: a checkpoint update is a transaction, and a
session-level advisory lock keeps two drainers (the every-minute batch trigger and the
streaming pipeline, say) off the same stream; the lock dies with a crashed process.

Protocol for each bronze object:
1. `mark_pending(shard, key, last_sequence)`: the key about to be written is recorded;
2. the object is written to S3;
3. `commit(shard, last_sequence)`: the checkpoint advances and pending is cleared.
After a crash between 2 and 3, `recover()` finds the object on S3 and commits it; after a
crash between 1 and 2 the object is absent and the records are read again from the old
checkpoint. Either way each record is in exactly one object.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.locks import lock_key

SCHEMA_SQL = """
create schema if not exists ingestion;
create table if not exists ingestion.kinesis_checkpoints (
    stream                text        not null,
    shard_id              text        not null,
    -- last sequence number written to bronze; null: nothing yet (read from TRIM_HORIZON)
    sequence_number       text,
    -- the shard is closed (after a reshard) and fully written: its children may be read
    closed                boolean     not null default false,
    pending_key           text,
    pending_last_sequence text,
    updated_at            timestamptz not null default now(),
    primary key (stream, shard_id)
);
comment on table ingestion.kinesis_checkpoints is
    'One row per Kinesis shard: how far kinesis_to_bronze has durably written it to S3.';
"""


class DrainLockedError(RuntimeError):
    """Another drainer holds the stream's lock."""


@dataclass(frozen=True)
class Checkpoint:
    shard_id: str
    sequence_number: str | None = None
    closed: bool = False
    pending_key: str | None = None
    pending_last_sequence: str | None = None


class CheckpointStore:
    """Checkpoints of one stream. Use as a context manager: it holds the stream's drain lock."""

    def __init__(self, settings: Settings, stream: str) -> None:
        self.settings = settings
        self.stream = stream
        self._connection = None
        self._resources = ExitStack()

    def __enter__(self) -> CheckpointStore:
        self._connection = self._resources.enter_context(connect(self.settings, autocommit=True))
        with self._connection.cursor() as cursor:
            cursor.execute(SCHEMA_SQL)
            cursor.execute("select pg_try_advisory_lock(%s)", (self._lock_id(),))
            (locked,) = cursor.fetchone()
        if not locked:
            self._resources.close()
            raise DrainLockedError(
                f"another process is draining stream {self.stream!r} (PostgreSQL advisory lock held); "
                "wait for it to finish or stop it"
            )
        return self

    def __exit__(self, *exc_info) -> None:
        self._connection = None
        self._resources.__exit__(*exc_info)  # closing the session releases the advisory lock

    def _lock_id(self) -> int:
        return lock_key("kinesis_to_bronze", self.stream)

    @contextmanager
    def _cursor(self) -> Iterator:
        if self._connection is None:
            raise RuntimeError("CheckpointStore must be used inside `with`")
        with self._connection.cursor() as cursor:
            yield cursor

    def load(self) -> dict[str, Checkpoint]:
        with self._cursor() as cursor:
            cursor.execute(
                "select shard_id, sequence_number, closed, pending_key, pending_last_sequence "
                "from ingestion.kinesis_checkpoints where stream = %s",
                (self.stream,),
            )
            return {row[0]: Checkpoint(*row) for row in cursor.fetchall()}

    def _upsert(self, checkpoint: Checkpoint) -> None:
        with self._cursor() as cursor:
            cursor.execute(
                """
                insert into ingestion.kinesis_checkpoints
                    (stream, shard_id, sequence_number, closed, pending_key, pending_last_sequence)
                values (%s, %s, %s, %s, %s, %s)
                on conflict (stream, shard_id) do update set
                    sequence_number = excluded.sequence_number,
                    closed = excluded.closed,
                    pending_key = excluded.pending_key,
                    pending_last_sequence = excluded.pending_last_sequence,
                    updated_at = now()
                """,
                (
                    self.stream,
                    checkpoint.shard_id,
                    checkpoint.sequence_number,
                    checkpoint.closed,
                    checkpoint.pending_key,
                    checkpoint.pending_last_sequence,
                ),
            )

    def mark_pending(self, current: Checkpoint, key: str, last_sequence: str) -> Checkpoint:
        pending = Checkpoint(current.shard_id, current.sequence_number, current.closed, key, last_sequence)
        self._upsert(pending)
        return pending

    def commit(self, current: Checkpoint, last_sequence: str | None, closed: bool = False) -> Checkpoint:
        committed = Checkpoint(current.shard_id, last_sequence, closed or current.closed)
        self._upsert(committed)
        return committed

    def reset(self) -> None:
        """Forget every checkpoint of this stream (tests and `--from-start` replays)."""
        with self._cursor() as cursor:
            cursor.execute("delete from ingestion.kinesis_checkpoints where stream = %s", (self.stream,))
