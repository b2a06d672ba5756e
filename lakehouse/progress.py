"""When each scheduled stage last ran and wrote: enough to tell, without Spark, that there is nothing new.

The every-minute schedules of bronze_to_silver and silver_to_gold used to start a Spark JVM
each minute only to find nothing to do, which kept an idle laptop's two cores 75 % busy. A run
now records here when it began looking at its input, how much it left waiting, and when it last
wrote anything; the next run compares that with the newest input (bronze objects' times, or
silver's last write) and exits in well under a second when nothing arrived since.

One row per stage and target (silver bucket, gold schema) in `ingestion.stage_progress`, a table
of the ingestion schema's migrations (sql/ingestion/migrations/, applied by the owner role).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lakehouse.config import Settings
from lakehouse.db import connect

# Input stamped this close before a run began is looked at again: S3 keeps LastModified to the
# second, and clocks on two machines (S3, the runner) may differ a little.
CLOCK_MARGIN = timedelta(seconds=5)


@dataclass(frozen=True)
class Progress:
    looked_at: datetime
    backlog: int
    wrote_at: datetime | None


def read(settings: Settings, stage: str, target: str) -> Progress | None:
    """The stage's progress on `target`; None before its first recorded run."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select looked_at, backlog, wrote_at from ingestion.stage_progress "
            "where stage = %s and target = %s",
            (stage, target),
        )
        row = cursor.fetchone()
    return Progress(*row) if row else None


def record(
    settings: Settings,
    stage: str,
    target: str,
    *,
    looked_at: datetime,
    backlog: int,
    wrote_at: datetime | None,
) -> None:
    """Record a successful run; `wrote_at` None keeps the time of the last run that wrote."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            """
            insert into ingestion.stage_progress (stage, target, looked_at, backlog, wrote_at)
            values (%s, %s, %s, %s, %s)
            on conflict (stage, target) do update set
                looked_at = excluded.looked_at,
                backlog = excluded.backlog,
                wrote_at = coalesce(excluded.wrote_at, ingestion.stage_progress.wrote_at)
            """,
            (stage, target, looked_at, backlog, wrote_at),
        )


def is_new(stamped: datetime | None, since: datetime) -> bool:
    """True when input stamped `stamped` may not have been seen by a run that began at `since`."""
    return stamped is not None and stamped >= since - CLOCK_MARGIN
