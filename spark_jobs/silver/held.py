"""Bronze objects held back by a failed critical quality gate, and their replay after a fix.

A batch that fails a critical expectation used to fail the run with nothing written, so the
next run took the same objects, failed the same way, and silver stopped for good. Now the
failing batch's objects are held (`ingestion.held_objects` in PostgreSQL, migration 004) and
the run succeeds with nothing written for them; later runs skip held objects, so the objects
after them flow on. `make status` and the Mage run's output list what is held and why.

After fixing the cause (validate.py or a suite in quality.py), one command replays them:

    python -m spark_jobs.silver.held replay [--stream S] [--key K ...]   (make replay-held)
    python -m spark_jobs.silver.held list [--stream S]

Replay marks the objects `replaying` and runs silver once: the run takes them with any new
objects, and marks them `replayed`, or holds them again if the gate still fails. Every silver
write is a MERGE on the event or bronze line, so a replayed object adds nothing twice.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from lakehouse.config import Settings, load_settings
from lakehouse.db import connect

HELD = "held"
REPLAYING = "replaying"
REPLAYED = "replayed"


@dataclass(frozen=True)
class HeldObject:
    stream: str
    bronze_key: str
    size: int
    status: str
    run_id: str
    reason: str
    held_at: datetime


def hold(
    settings: Settings, stream: str, objects: Iterable[tuple[str, int]], run_id: str, reason: str
) -> None:
    """Hold these (key, size) objects of `stream`: later runs skip them until a replay."""
    rows = [(stream, key, size, run_id, reason) for key, size in objects]
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.executemany(
            """
            insert into ingestion.held_objects (stream, bronze_key, size, status, run_id, reason)
            values (%s, %s, %s, 'held', %s, %s)
            on conflict (stream, bronze_key) do update set
                size = excluded.size, status = 'held', run_id = excluded.run_id,
                reason = excluded.reason, held_at = now(), replayed_at = null, replay_run = null
            """,
            rows,
        )


def open_objects(settings: Settings, stream: str | None = None) -> list[HeldObject]:
    """Objects held or waiting for their replay (of `stream`, or of every stream), oldest first."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            """
            select stream, bronze_key, size, status, run_id, reason, held_at
            from ingestion.held_objects
            where status <> 'replayed' and (%(stream)s::text is null or stream = %(stream)s)
            order by stream, bronze_key
            """,
            {"stream": stream},
        )
        return [HeldObject(*row) for row in cursor.fetchall()]


def request_replay(settings: Settings, stream: str, keys: Sequence[str] = ()) -> int:
    """Mark held objects of `stream` (all, or those in `keys`) for the next run; returns how many."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            """
            update ingestion.held_objects set status = 'replaying', replay_at = now()
            where stream = %(stream)s and status = 'held'
              and (cardinality(%(keys)s::text[]) = 0 or bronze_key = any(%(keys)s::text[]))
            """,
            {"stream": stream, "keys": list(keys)},
        )
        return cursor.rowcount


def settle(settings: Settings, stream: str, keys: Iterable[str], run_id: str) -> int:
    """Mark replaying objects that `run_id` has now written as replayed; returns how many."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            """
            update ingestion.held_objects set status = 'replayed', replayed_at = now(), replay_run = %s
            where stream = %s and status = 'replaying' and bronze_key = any(%s)
            """,
            (run_id, stream, list(keys)),
        )
        return cursor.rowcount


def split_pending(
    listed: Sequence[tuple[str, int]], held: Sequence[HeldObject], max_objects: int | None
) -> tuple[list[tuple[str, int]], int]:
    """What a run takes: listed objects not held, plus those to replay; at most `max_objects`.

    `listed` is what the bronze log says is new, (key, size) in key order. Objects to replay
    are taken even when older than the listing's lookback. Returns them in key order and how
    many wait beyond `max_objects`.
    """
    skipped = {item.bronze_key for item in held if item.status == HELD}
    chosen = {key: size for key, size in listed if key not in skipped}
    for item in held:
        if item.status == REPLAYING:
            chosen.setdefault(item.bronze_key, item.size)
    ordered = sorted(chosen.items())
    if max_objects is not None and len(ordered) > max_objects:
        return ordered[:max_objects], len(ordered) - max_objects
    return ordered, 0


def status_line(settings: Settings) -> str:
    """One line for `make status`: how many objects are held, since when, and the first reason."""
    waiting = open_objects(settings)
    if not waiting:
        return "none"
    held = [item for item in waiting if item.status == HELD]
    replaying = len(waiting) - len(held)
    parts = []
    if held:
        first = min(held, key=lambda item: (item.held_at, item.bronze_key))
        reason = first.reason.splitlines()[0][:100]
        more = f" and {len(held) - 1} more" if len(held) > 1 else ""
        since = f"{first.held_at:%Y-%m-%d %H:%M}"
        parts.append(f"{len(held)} object(s) held since {since}: {first.bronze_key}{more} ({reason})")
    if replaying:
        parts.append(f"{replaying} waiting for replay")
    return "; ".join(parts) + "; list: make held, replay after a fix: make replay-held"


def _replay(settings: Settings, stream: str, keys: Sequence[str]) -> int:
    # Spark is started only here: listing and status need PostgreSQL alone.
    from lakehouse.locks import Skipped, run_exclusively
    from spark_jobs.session import spark_session
    from spark_jobs.silver.job import run_bronze_to_silver

    marked = request_replay(settings, stream, keys)
    if not marked:
        print(f"nothing held for stream {stream}{' with those keys' if keys else ''}")
        return 0
    print(f"replaying {marked} held object(s) of {stream}")
    summary = run_exclusively(
        settings,
        "silver",
        settings.silver_bucket,
        lambda: run_bronze_to_silver(spark_session("silver-replay", settings), settings, stream=stream),
    )
    if isinstance(summary, Skipped):
        print(f"silver is running elsewhere ({summary.reason}); its next run replays them")
        return 0
    print(f"silver: {summary}")
    if summary.held_objects:
        print(f"held again ({len(summary.held_objects)}): {summary.held_reason}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spark_jobs.silver.held", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=("list", "replay"))
    parser.add_argument("--stream", help="the Kinesis stream (default: KINESIS_STREAM)")
    parser.add_argument("--key", action="append", default=[], help="replay only this bronze key (repeatable)")
    args = parser.parse_args(argv)
    settings = load_settings()
    stream = args.stream or settings.kinesis_stream
    if args.command == "replay":
        return _replay(settings, stream, args.key)
    waiting = open_objects(settings, stream)
    for item in waiting:
        print(f"{item.status:9} {item.held_at:%Y-%m-%d %H:%M:%S} {item.bronze_key}")
        print(f"          run {item.run_id}: {item.reason.splitlines()[0]}")
    print(f"{len(waiting)} object(s) held or waiting for replay")
    return 0


if __name__ == "__main__":
    sys.exit(main())
