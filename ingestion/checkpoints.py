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

Each row also records the stream's identity (ARN and creation time, from
DescribeStreamSummary). Sequence numbers mean something only in the stream that issued them: a
stream deleted and created again under the same name (LocalStack forgets its streams on every
restart) is a new stream, and its checkpoints must be reset, by a person who has checked that
what the old stream held is in bronze:

    .venv/bin/python -m ingestion.checkpoints reset STREAM

The table is a migration (sql/ingestion/migrations/), applied by the owner role when the stack
starts or with `make gold-migrate`; the drain connects as the loader, which writes rows only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime

from lakehouse.config import Settings, load_settings
from lakehouse.db import connect
from lakehouse.locks import lock_key

RESET_COMMAND = ".venv/bin/python -m ingestion.checkpoints reset {stream}"


@dataclass(frozen=True)
class StreamIdentity:
    """What tells one stream from another of the same name: its ARN and creation time."""

    arn: str
    created_at: datetime

    @classmethod
    def of(cls, kinesis, stream: str) -> StreamIdentity:
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        return cls(summary["StreamARN"], summary["StreamCreationTimestamp"])


class StreamRecreatedError(RuntimeError):
    """The checkpoints belong to an earlier stream of the same name; the message says what to do."""


def recreated_message(stream: str, recorded: StreamIdentity, current: StreamIdentity) -> str:
    return (
        f"Kinesis stream {stream!r} was recreated: its checkpoints belong to the stream created "
        f"{recorded.created_at.isoformat()} ({recorded.arn}), the stream now was created "
        f"{current.created_at.isoformat()} ({current.arn}). Their sequence numbers mean nothing in the "
        "new stream, and whatever the old one held and bronze did not is gone with it. Check that "
        "bronze holds what you need, then reset the checkpoints with "
        f"`{RESET_COMMAND.format(stream=stream)}`; the next drain reads the new stream from its start."
    )


def identity_problem(
    stream: str, recorded: Iterable[StreamIdentity | None], current: StreamIdentity
) -> str | None:
    """Why the checkpoints must not be used with `current`, or None when they may.

    Rows with no identity (written before it was recorded) are taken as the current stream's;
    a row with another creation time or ARN means the stream was deleted and created again.
    """
    for identity in recorded:
        if identity is None:
            continue
        same_time = identity.created_at.timestamp() == current.created_at.timestamp()
        if not same_time or identity.arn != current.arn:
            return recreated_message(stream, identity, current)
    return None


class DrainLockedError(RuntimeError):
    """Another drainer holds the stream's lock."""


@dataclass(frozen=True)
class Checkpoint:
    shard_id: str
    sequence_number: str | None = None
    closed: bool = False
    pending_key: str | None = None
    pending_last_sequence: str | None = None
    identity: StreamIdentity | None = None


class CheckpointStore:
    """Checkpoints of one stream. Use as a context manager: it holds the stream's drain lock.

    `identity` is the stream's as the drain found it; every row written carries it.
    """

    def __init__(self, settings: Settings, stream: str) -> None:
        self.settings = settings
        self.stream = stream
        self.identity: StreamIdentity | None = None
        self._connection = None
        self._resources = ExitStack()

    def __enter__(self) -> CheckpointStore:
        self._connection = self._resources.enter_context(connect(self.settings, autocommit=True))
        with self._connection.cursor() as cursor:
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
                "select shard_id, sequence_number, closed, pending_key, pending_last_sequence, "
                "stream_arn, stream_created_at "
                "from ingestion.kinesis_checkpoints where stream = %s",
                (self.stream,),
            )
            return {
                row[0]: Checkpoint(*row[:5], StreamIdentity(row[5], row[6]) if row[5] else None)
                for row in cursor.fetchall()
            }

    def bind(self, current: StreamIdentity) -> dict[str, Checkpoint]:
        """The checkpoints, once they are known to belong to `current`; StreamRecreatedError if not.

        Rows without an identity (from before it was recorded) are stamped with `current`.
        """
        checkpoints = self.load()
        problem = identity_problem(self.stream, (c.identity for c in checkpoints.values()), current)
        if problem:
            raise StreamRecreatedError(problem)
        self.identity = current
        with self._cursor() as cursor:
            cursor.execute(
                "update ingestion.kinesis_checkpoints set stream_arn = %s, stream_created_at = %s "
                "where stream = %s and stream_arn is null",
                (current.arn, current.created_at, self.stream),
            )
        return self.load()

    def _upsert(self, checkpoint: Checkpoint) -> None:
        identity = self.identity or checkpoint.identity
        with self._cursor() as cursor:
            cursor.execute(
                """
                insert into ingestion.kinesis_checkpoints as saved
                    (stream, shard_id, sequence_number, closed, pending_key, pending_last_sequence,
                     stream_arn, stream_created_at)
                values (%s, %s, %s, %s, %s, %s, %s, %s)
                on conflict (stream, shard_id) do update set
                    sequence_number = excluded.sequence_number,
                    closed = excluded.closed,
                    pending_key = excluded.pending_key,
                    pending_last_sequence = excluded.pending_last_sequence,
                    stream_arn = coalesce(excluded.stream_arn, saved.stream_arn),
                    stream_created_at = coalesce(excluded.stream_created_at, saved.stream_created_at),
                    updated_at = now()
                """,
                (
                    self.stream,
                    checkpoint.shard_id,
                    checkpoint.sequence_number,
                    checkpoint.closed,
                    checkpoint.pending_key,
                    checkpoint.pending_last_sequence,
                    identity.arn if identity else None,
                    identity.created_at if identity else None,
                ),
            )

    def mark_pending(self, current: Checkpoint, key: str, last_sequence: str) -> Checkpoint:
        pending = Checkpoint(
            current.shard_id, current.sequence_number, current.closed, key, last_sequence, current.identity
        )
        self._upsert(pending)
        return pending

    def commit(self, current: Checkpoint, last_sequence: str | None, closed: bool = False) -> Checkpoint:
        committed = Checkpoint(
            current.shard_id, last_sequence, closed or current.closed, identity=current.identity
        )
        self._upsert(committed)
        return committed

    def reset(self) -> None:
        """Forget every checkpoint of this stream (tests and `--from-start` replays)."""
        with self._cursor() as cursor:
            cursor.execute("delete from ingestion.kinesis_checkpoints where stream = %s", (self.stream,))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingestion.checkpoints",
        description="Bronze checkpoints of a Kinesis stream (ingestion.kinesis_checkpoints).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    reset = commands.add_parser(
        "reset",
        help="forget a stream's checkpoints (after it was recreated and bronze was checked); "
        "the next drain reads it from its start",
    )
    reset.add_argument("stream")
    arguments = parser.parse_args(argv)
    try:
        with CheckpointStore(load_settings(), arguments.stream) as store:
            shards = len(store.load())
            store.reset()
    except DrainLockedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"forgot the checkpoints of {shards} shards of stream {arguments.stream!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
