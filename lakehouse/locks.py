"""One writer per stage and target at a time, across processes: PostgreSQL advisory locks.

Silver's Delta tables take one writer at a time (S3 has no atomic put-if-absent for Delta's
log on every store), and gold's load and alert lifecycle assume one loader per schema. The
every-minute Mage runs, a run started from the UI and the continuous `pos_live` pipeline can
all reach the same stage, so each takes the stage's lock for the length of its run. A batch run
that finds it held skips (the holder takes the new data); pos_live waits for it instead.

Every advisory lock of the project (stages, the Kinesis drain, gold migrations, alert
publishing) takes its key from `lock_key`, so two locks can only collide by name.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from lakehouse.config import Settings
from lakehouse.db import connect

T = TypeVar("T")


class StageBusyError(RuntimeError):
    """Another process holds the stage's lock: this run has nothing to do until it is done."""


@dataclass(frozen=True)
class Skipped:
    """A run that found its stage busy and did nothing: the holder takes the new data."""

    stage: str
    target: str
    reason: str


def lock_key(stage: str, target: str) -> int:
    """A stable 32-bit key per stage and target (bucket, schema, stream); advisory locks take a bigint."""
    return zlib.crc32(f"{stage}:{target}".encode())


@contextmanager
def stage_lock(settings: Settings, stage: str, target: str) -> Iterator[None]:
    """Hold `stage` on `target` for the block; StageBusyError at once if another process holds it.

    The lock lives in its own session, so it is released when the block ends however it ends,
    and by PostgreSQL if the process dies.
    """
    with connect(settings, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("select pg_try_advisory_lock(%s)", (lock_key(stage, target),))
        (locked,) = cursor.fetchone()
        if not locked:
            raise StageBusyError(
                f"{stage} of {target} is running in another process (PostgreSQL advisory lock held); "
                "this run skips and that process's next pass takes the new data"
            )
        yield


def run_exclusively(settings: Settings, stage: str, target: str, work: Callable[[], T]) -> T | Skipped:
    """`work()` while holding `stage` on `target`, or Skipped at once when another process holds it.

    What the scheduled batch runs do: a run that finds pos_live or another run writing the same
    stage has read nothing, so skipping leaves nothing unaccounted.
    """
    try:
        with stage_lock(settings, stage, target):
            return work()
    except StageBusyError as busy:
        print(f"{stage}: skipped, {busy}")
        return Skipped(stage, target, str(busy))
