"""The continuous path: Kinesis -> bronze -> silver -> gold in one process with a warm SparkSession.

The every-minute Mage schedules start three runs, each in a new process with a cold JVM, and
an event waits for up to three ticks: minutes from sale to gold. `pos_live` (a Mage streaming
pipeline whose source calls `run_live`) instead loops: drain the new records into bronze, take
the new objects into silver, refresh gold when silver took anything, publish the alerts, and
start again after `LIVE_POLL_SECONDS` when there was nothing new. Each stage is the same
function the batch pipelines call, and the loop holds the stages' locks (lakehouse/locks.py)
while it runs, so the schedules may stay on: their runs skip while the loop owns the stages
and take over when it stops, and nothing is written twice.

The locks live in PostgreSQL sessions: when one ends (PostgreSQL restarted, the backend
terminated), every write of the loop is refused by its lease check (LeaseLostError) before it
reaches silver or gold. The loop then lets go of both stages, takes them again (waiting while a
scheduled run that got in meanwhile finishes) and goes on with a first pass, which redoes
whatever the refused pass left; it never writes without a valid lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg2
from pyspark.sql import SparkSession

from ingestion.checkpoints import DrainLockedError
from ingestion.drain import drain
from lakehouse.config import Settings
from lakehouse.locks import LeaseLostError, StageBusyError, stage_lock
from spark_jobs.gold.job import GoldRun, NothingToLoad, run_silver_to_gold
from spark_jobs.gold.migrate import require_migrated
from spark_jobs.schedule import record_gold_run, record_silver_run
from spark_jobs.silver.job import run_bronze_to_silver

log = logging.getLogger(__name__)

# How long pos_live waits for PostgreSQL to come back before it exits without its stages.
RECONNECT_SECONDS = 120


@dataclass
class LivePass:
    """What one pass did per stage: a summary, or why the stage was skipped."""

    bronze_events: int = 0
    silver_events: int = 0
    gold: GoldRun | NothingToLoad | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def did_work(self) -> bool:
        return bool(self.bronze_events or self.silver_events or self.gold)

    def as_dict(self) -> dict:
        return {
            "bronze_events": self.bronze_events,
            "silver_events": self.silver_events,
            "gold": self.gold.as_dict() if self.gold else None,
            "skipped": self.skipped,
            "stage_seconds": self.stage_seconds,
            "seconds": round(self.seconds, 1),
        }


def run_pass(spark: SparkSession, settings: Settings, schema: str, first: bool) -> LivePass:
    """One pass through the three stages; gold runs when silver took events, and on the `first`.

    The first pass also creates silver's bucket and tables if they are missing; later passes
    skip those checks (a second of S3 and Delta calls each time). The caller holds the silver
    and gold locks (run_live); bronze's lock is the drain's own.
    """
    began = time.monotonic()
    done = LivePass()
    try:
        done.bronze_events = drain(settings).events
    except DrainLockedError as busy:
        done.skipped["bronze"] = str(busy)  # a batch drain is writing the same records to bronze
    done.stage_seconds["bronze"] = round(time.monotonic() - began, 1)
    silver_began = datetime.now(UTC)
    summary = run_bronze_to_silver(spark, settings, prepare=first)
    record_silver_run(settings, silver_began, summary)
    done.silver_events = summary.accepted_events + summary.quarantined
    done.stage_seconds["silver"] = summary.seconds
    if done.silver_events or first:
        gold_began = datetime.now(UTC)
        done.gold = run_silver_to_gold(spark, settings, schema=schema, publish=True)
        record_gold_run(settings, schema, gold_began)
        done.stage_seconds["gold"] = done.gold.seconds
    done.seconds = time.monotonic() - began
    return done


def _hold(held: ExitStack, settings: Settings, stage: str, target: str, poll_seconds: float) -> None:
    """Take a stage's lock into `held`, waiting for a run that has it to finish.

    PostgreSQL refusing connections (restarting) is waited for up to RECONNECT_SECONDS, then
    raised: pos_live exits rather than run without its stages.
    """
    unreachable_since = None
    while True:
        try:
            held.enter_context(stage_lock(settings, stage, target))
            return
        except StageBusyError:
            log.info("pos_live: waiting for the running %s of %s to finish", stage, target)
        except psycopg2.OperationalError as error:
            unreachable_since = unreachable_since or time.monotonic()
            if time.monotonic() - unreachable_since > RECONNECT_SECONDS:
                raise
            log.warning("pos_live: PostgreSQL unreachable while taking %s (%s); retrying", stage, error)
        time.sleep(poll_seconds)


def _take_stages(held: ExitStack, settings: Settings, schema: str, poll_seconds: float) -> None:
    """Silver then gold (always in that order, so two takers cannot wait on each other)."""
    _hold(held, settings, "silver", settings.silver_bucket, poll_seconds)
    _hold(held, settings, "gold", schema, poll_seconds)


def run_live(
    spark: SparkSession,
    settings: Settings,
    schema: str,
    poll_seconds: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[LivePass]:
    """Pass after pass until `should_stop` (or the generator is closed); yields each busy pass.

    `poll_seconds` defaults to `settings.live.poll_seconds` (LIVE_POLL_SECONDS).

    The loop holds the silver and gold locks for as long as it runs: the every-minute runs of
    bronze_to_silver and silver_to_gold then skip at once, before starting a Spark session,
    instead of competing with it for the cores and for the same new data. A pass refused for a
    lost lease lets go of both stages and takes them again before the next pass.
    """
    poll_seconds = settings.live.poll_seconds if poll_seconds is None else poll_seconds
    require_migrated(settings, schema)
    with ExitStack() as held:
        _take_stages(held, settings, schema, poll_seconds)
        first = True  # the first pass also brings gold up to whatever silver already holds
        while not should_stop():
            try:
                done = run_pass(spark, settings, schema, first)
            except LeaseLostError as lost:
                log.warning("pos_live: %s", lost)
                held.close()  # lets go of the other stage too: both are taken again, in order
                log.warning("pos_live: taking silver and gold again before the next pass")
                _take_stages(held, settings, schema, poll_seconds)
                first = True
                continue
            first = False
            log.info("live pass: %s", done.as_dict())
            if done.did_work:
                yield done
            else:
                time.sleep(poll_seconds)
