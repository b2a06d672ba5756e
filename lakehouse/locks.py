"""One writer per stage and target at a time, across processes: advisory locks fenced by lease tokens.

Silver's Delta tables take one writer at a time (S3 has no atomic put-if-absent for Delta's
log on every store), and gold's load and alert lifecycle assume one loader per schema. The
every-minute Mage runs, a run started from the UI and the continuous `pos_live` pipeline can
all reach the same stage, so each takes the stage's lock for the length of its run. A batch run
that finds it held skips (the holder takes the new data); pos_live waits for it instead.

An advisory lock lives in a PostgreSQL session, and dies with it: a PostgreSQL restart, a
terminated backend or a dropped connection frees the stage while its holder (a long Spark run)
carries on. So taking a stage also takes its lease: the row of `ingestion.stage_leases` for the
stage and target, whose fencing token goes up by one on every takeover, written in the session
that holds the lock. A writer proves it still holds the stage before each write that others
could see (`require_lease`): its lock session answers and the row still carries its token.
Gold's load checks the same in its own transaction (`Lease.check_in`), locking the row, so a
takeover waits for a load in flight and a load after a takeover is rolled back. A writer that
fails the check stops with `LeaseLostError` and writes nothing more.

The lease is the current one of its context while the stage is held (`stage_lock` sets it, a
contextvar), so write functions deep in a job find it without every signature carrying it.

Every advisory lock of the project (stages, the Kinesis drain, gold migrations, alert
publishing) takes its key from `lock_key`, so two locks can only collide by name.
"""

from __future__ import annotations

import os
import socket
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg2
import psycopg2.errors

from lakehouse.config import Settings
from lakehouse.db import connect

T = TypeVar("T")

LEASES = "ingestion.stage_leases"
_TAKE = f"""
    insert into {LEASES} (stage, target, token, holder, holder_pid)
    values (%(stage)s, %(target)s, 1, %(holder)s, pg_backend_pid())
    on conflict (stage, target) do update set
        token = {LEASES}.token + 1,
        holder = excluded.holder,
        holder_pid = excluded.holder_pid,
        taken_at = now(),
        released_at = null
    returning token, holder_pid
"""
_CURRENT = f"select token, holder from {LEASES} where stage = %s and target = %s"
# In another session's transaction: lock the row (a takeover waits for this transaction), then
# say whether the lock session still holds the advisory lock (pg_locks keeps a bigint key as
# classid = high 32 bits, objid = low 32 bits, objsubid = 1).
_CURRENT_FOR_UPDATE = f"""
    select lease.token, lease.holder, exists (
        select 1 from pg_locks as held
        where held.locktype = 'advisory' and held.granted and held.pid = %s
          and held.classid = 0 and held.objid = %s::bigint::oid and held.objsubid = 1
    )
    from {LEASES} as lease
    where lease.stage = %s and lease.target = %s
    for update of lease
"""
_RELEASE = f"update {LEASES} set released_at = now() where stage = %s and target = %s and token = %s"


class StageBusyError(RuntimeError):
    """Another process holds the stage's lock: this run has nothing to do until it is done."""


class LeaseLostError(RuntimeError):
    """This process no longer holds the stage it is writing: it must stop writing at once."""


class NoLeaseError(RuntimeError):
    """A write to a shared stage was attempted without holding the stage: a bug in the caller."""


@dataclass(frozen=True)
class Skipped:
    """A run that found its stage busy and did nothing: the holder takes the new data."""

    stage: str
    target: str
    reason: str


def lock_key(stage: str, target: str) -> int:
    """A stable 32-bit key per stage and target (bucket, schema, stream); advisory locks take a bigint."""
    return zlib.crc32(f"{stage}:{target}".encode())


def holder_name() -> str:
    """Who this process is, as the lease row and the messages name it."""
    return f"{socket.gethostname()} pid {os.getpid()}"


@dataclass(frozen=True)
class Lease:
    """A held stage: its fencing token and the session that holds its advisory lock."""

    stage: str
    target: str
    token: int
    session_pid: int  # the backend pid of the lock session
    session: Any  # the psycopg2 connection holding the lock (autocommit)

    @property
    def tag(self) -> str:
        """What a write records about its writer (Delta's commit user metadata)."""
        return f"{self.stage}:{self.target} lease {self.token} ({holder_name()})"

    def _lost(self, why: str, before: str) -> LeaseLostError:
        return LeaseLostError(
            f"{self.stage} of {self.target}: this process ({holder_name()}) lost its lease (token "
            f"{self.token}): {why}. It stopped before {before} and writes nothing more; what it "
            "wrote before is complete and the next holder's run takes the rest. Nothing to repair: "
            "rerun the stage, or leave it to its schedule or pos_live."
        )

    def check(self, before: str) -> None:
        """Raise LeaseLostError unless the lock session answers and the row still has our token."""
        try:
            with self.session.cursor() as cursor:
                cursor.execute(_CURRENT, (self.stage, self.target))
                row = cursor.fetchone()
        except psycopg2.Error as error:
            said = (str(error).strip() or type(error).__name__).splitlines()[0]
            raise self._lost(
                f"its PostgreSQL lock session ended ({said}), so the stage's lock is free", before
            ) from error
        verdict = judge(self.token, None if row is None else (row[0], row[1]), lock_held=True)
        if verdict:
            raise self._lost(verdict, before)

    def check_in(self, cursor, before: str) -> None:
        """The same proof inside another session's transaction, holding the lease row until it ends.

        A takeover updates this row, so it waits for that transaction; a transaction that checks
        after a takeover sees the new token and is refused.
        """
        cursor.execute(
            _CURRENT_FOR_UPDATE,
            (self.session_pid, lock_key(self.stage, self.target), self.stage, self.target),
        )
        row = cursor.fetchone()
        verdict = judge(self.token, None if row is None else (row[0], row[1]), lock_held=bool(row and row[2]))
        if verdict:
            raise self._lost(verdict, before)


def judge(token: int, current: tuple[int, str] | None, *, lock_held: bool) -> str | None:
    """Why a holder of `token` may not write, given the lease row's (token, holder); None: it may."""
    if current is None:
        return f"the lease row is gone from {LEASES}"
    current_token, current_holder = current
    if current_token != token:
        return f"the stage was taken over (token {current_token}, by {current_holder})"
    if not lock_held:
        return "its PostgreSQL lock session ended, so the stage's lock is free"
    return None


_held: ContextVar[tuple[Lease, ...]] = ContextVar("held_leases", default=())


def current_lease(stage: str, target: str) -> Lease | None:
    """The lease this context holds on `stage` of `target`, if any (the newest, if taken again)."""
    held = (lease for lease in reversed(_held.get()) if (lease.stage, lease.target) == (stage, target))
    return next(held, None)


def require_lease(stage: str, target: str, before: str) -> Lease:
    """The held, still valid lease on `stage` of `target`, proven just `before` a write.

    Raises NoLeaseError when the context holds none (the write was not wrapped in
    `stage_lock`/`run_exclusively`/`own_stage`), LeaseLostError when it was lost.
    """
    lease = current_lease(stage, target)
    if lease is None:
        held = ", ".join(f"{lease.stage} of {lease.target}" for lease in _held.get()) or "nothing"
        raise NoLeaseError(
            f"refusing {before}: this process does not hold {stage} of {target} (it holds {held}). "
            f"Run the write inside lakehouse.locks.stage_lock or own_stage(settings, {stage!r}, {target!r})"
        )
    lease.check(before)
    return lease


def _take(connection, stage: str, target: str) -> Lease:
    with connection.cursor() as cursor:
        cursor.execute("select pg_try_advisory_lock(%s)", (lock_key(stage, target),))
        (locked,) = cursor.fetchone()
        if not locked:
            raise StageBusyError(
                f"{stage} of {target} is running in another process (PostgreSQL advisory lock held); "
                "this run skips and that process's next pass takes the new data"
            )
        try:
            cursor.execute(_TAKE, {"stage": stage, "target": target, "holder": holder_name()})
        except psycopg2.errors.UndefinedTable as missing:
            raise RuntimeError(
                f"{LEASES} is missing from database {connection.info.dbname}: the ingestion migrations "
                "are behind the code; run `make gold-migrate` (it applies sql/ingestion/migrations too)"
            ) from missing
        token, session_pid = cursor.fetchone()
    return Lease(stage, target, token, session_pid, connection)


@contextmanager
def stage_lock(settings: Settings, stage: str, target: str) -> Iterator[Lease]:
    """Hold `stage` on `target` for the block and yield its lease; StageBusyError at once if another
    process holds it.

    The lock lives in its own session, so it is released when the block ends however it ends,
    and by PostgreSQL if the process dies. The lease is the context's current one for the block.
    """
    with connect(settings, autocommit=True) as connection:
        lease = _take(connection, stage, target)
        reset = _held.set((*_held.get(), lease))
        try:
            yield lease
        finally:
            _held.reset(reset)
            _release(lease)


def _release(lease: Lease) -> None:
    """Mark the lease let go; a session that already ended has nothing left to release."""
    try:
        with lease.session.cursor() as cursor:
            cursor.execute(_RELEASE, (lease.stage, lease.target, lease.token))
            cursor.execute("select pg_advisory_unlock(%s)", (lock_key(lease.stage, lease.target),))
    except psycopg2.Error:
        pass  # the lock died with its session; the row keeps the token for the next holder to raise


@contextmanager
def own_stage(settings: Settings, stage: str, target: str) -> Iterator[Lease]:
    """The lease this context already holds on the stage (proven valid), or the stage taken for the block.

    What a job's entry point wraps its writes in: called from a block that holds the stage
    (run_exclusively, pos_live) it goes on under that lease; called on its own (a test, a
    benchmark, a one-off script) it takes the stage itself, StageBusyError when another has it.
    """
    held = current_lease(stage, target)
    if held is not None:
        held.check(f"writing {stage} of {target}")
        yield held
        return
    with stage_lock(settings, stage, target) as lease:
        yield lease


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
