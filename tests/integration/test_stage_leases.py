"""Stage leases on the real PostgreSQL: a takeover after the holder's session dies fences the old holder.

The first holder's lock session is ended with pg_terminate_backend (what a PostgreSQL restart or
a dropped connection does to it); a second holder then takes the stage, and every later write
of the first (its check before a Delta commit, its check inside a gold load's transaction, a
real MERGE into a silver table on S3) is refused with a message that says what happened.
Silver's maintenance (OPTIMIZE, VACUUM) is held to silver's stage the same way.
"""

from __future__ import annotations

import contextvars
import threading
import uuid

import pytest
from delta.tables import DeltaTable

from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.locks import (
    LEASES,
    LeaseLostError,
    NoLeaseError,
    Skipped,
    StageBusyError,
    own_stage,
    run_exclusively,
    stage_lock,
)
from spark_jobs.session import s3a_uri
from spark_jobs.silver import bronze_log
from spark_jobs.silver.maintenance import compact_and_vacuum
from spark_jobs.silver.tables import (
    DELIVERIES,
    SALES_LINES,
    ensure_table,
    merge_rows,
    table_path,
    table_schema,
)

pytestmark = pytest.mark.integration


def _end_session(settings: Settings, pid: int) -> None:
    with connect(settings, owner=True, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("select pg_terminate_backend(%s)", (pid,))
        assert cursor.fetchone()[0], f"backend {pid} was not there to terminate"


def _row(settings: Settings, stage: str, target: str) -> tuple:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"select token, released_at from {LEASES} where stage = %s and target = %s", (stage, target)
        )
        return cursor.fetchone()


def test_tokens_only_increase_and_a_clean_release_is_recorded(postgres: Settings):
    target = f"bucket-{uuid.uuid4().hex[:8]}"
    tokens = []
    for _ in range(3):
        with stage_lock(postgres, "silver", target) as lease:
            tokens.append(lease.token)
            assert _row(postgres, "silver", target) == (lease.token, None)
        assert _row(postgres, "silver", target)[1] is not None  # let go cleanly
    assert tokens == [1, 2, 3]


def test_a_second_holder_takes_over_a_dead_session_and_fences_the_first(postgres: Settings):
    target = f"bucket-{uuid.uuid4().hex[:8]}"
    with stage_lock(postgres, "silver", target) as first:
        with pytest.raises(StageBusyError), stage_lock(postgres, "silver", target):
            pass
        first.check("a write while the session lives")  # holds: no error

        _end_session(postgres, first.session_pid)
        with pytest.raises(LeaseLostError, match="lock session ended") as refused:
            first.check("MERGE into s3a://x/sales_lines")
        message = str(refused.value)
        assert f"silver of {target}" in message and f"token {first.token}" in message
        assert "stopped before MERGE into s3a://x/sales_lines" in message

        with stage_lock(postgres, "silver", target) as second:
            assert second.token == first.token + 1
            second.check("a write by the new holder")
            refused = pytest.raises(LeaseLostError, match=rf"taken over \(token {second.token}, by ")
            with connect(postgres) as connection, connection.cursor() as cursor, refused:
                first.check_in(cursor, "committing a load")
            with connect(postgres) as connection, connection.cursor() as cursor:
                second.check_in(cursor, "committing a load")
    assert _row(postgres, "silver", target)[0] == first.token + 1


def test_a_load_is_refused_once_the_lock_session_ended_even_before_a_takeover(postgres: Settings):
    target = f"schema_{uuid.uuid4().hex[:8]}"
    with stage_lock(postgres, "gold", target) as lease:
        with connect(postgres) as connection, connection.cursor() as cursor:
            lease.check_in(cursor, "committing a load")
        _end_session(postgres, lease.session_pid)
        refused = pytest.raises(LeaseLostError, match="lock session ended")
        with connect(postgres) as connection, connection.cursor() as cursor, refused:
            lease.check_in(cursor, "committing a load")


def test_a_takeover_waits_for_a_load_in_flight(postgres: Settings):
    """The load's transaction locks the lease row: the new holder's token comes after its commit."""
    target = f"schema_{uuid.uuid4().hex[:8]}"
    taken = threading.Event()
    with stage_lock(postgres, "gold", target) as first:
        with connect(postgres) as connection, connection.cursor() as cursor:
            first.check_in(cursor, "committing a load")
            _end_session(postgres, first.session_pid)

            def take_over() -> None:
                with stage_lock(postgres, "gold", target):
                    taken.set()

            taker = threading.Thread(target=take_over)
            taker.start()
            assert not taken.wait(2), "the takeover did not wait for the load's transaction"
        taker.join(30)  # the load committed: the takeover goes on
        assert taken.is_set()
    assert _row(postgres, "gold", target)[0] == first.token + 1


def test_own_stage_reuses_the_held_lease_or_takes_the_stage(postgres: Settings):
    target = f"bucket-{uuid.uuid4().hex[:8]}"
    with own_stage(postgres, "silver", target) as taken, own_stage(postgres, "silver", target) as reused:
        assert reused is taken
    with stage_lock(postgres, "silver", target) as held:
        _end_session(postgres, held.session_pid)
        with pytest.raises(LeaseLostError), own_stage(postgres, "silver", target):
            pass


def test_a_delta_commit_after_losing_the_lease_is_refused(spark, own_lake, postgres: Settings):
    lake = own_lake(f"fence{uuid.uuid4().hex[:8]}")
    path = table_path(s3a_uri(lake.silver_bucket), SALES_LINES.name)
    rows = spark.createDataFrame([], table_schema(SALES_LINES))
    with stage_lock(lake, "silver", lake.silver_bucket) as first:
        ensure_table(spark, path, table_schema(SALES_LINES), SALES_LINES.partition_by)
        history = DeltaTable.forPath(spark, path).history()
        assert history.first()["userMetadata"] == first.tag  # each version names its writer
        version = history.first()["version"]
        as_first = contextvars.copy_context()  # the first writer's context: its lease only
        _end_session(lake, first.session_pid)
        with stage_lock(lake, "silver", lake.silver_bucket) as second:
            refused = pytest.raises(LeaseLostError, match=f"lost its lease \\(token {first.token}\\)")
            with refused:
                as_first.run(merge_rows, spark, path, rows, SALES_LINES.keys, SALES_LINES.partition_by, [])
            assert DeltaTable.forPath(spark, path).history().first()["version"] == version
            other = table_path(s3a_uri(lake.silver_bucket), DELIVERIES.name)
            ensure_table(
                spark, other, table_schema(DELIVERIES), DELIVERIES.partition_by
            )  # the new holder writes
            assert DeltaTable.forPath(spark, other).history().first()["userMetadata"] == second.tag


def test_silver_maintenance_runs_under_silver_stage_and_skips_while_it_is_busy(spark, own_lake):
    lake = own_lake(f"upkeep{uuid.uuid4().hex[:8]}")
    root = s3a_uri(lake.silver_bucket)
    entries = "bronze_key string, stream string, size long, lines long, accepted long, quarantined long"
    with stage_lock(lake, "silver", lake.silver_bucket):
        bronze_log.ensure_log(spark, root)
        for n in range(2):  # two commits, two small files
            rows = spark.createDataFrame([(f"k{n}", "s", 1, 1, 1, 0)], entries)
            bronze_log.record_processed(
                spark, root, rows.selectExpr("*", "'r' as run_id", "now() as processed_at")
            )
    log_path = bronze_log.log_path(root)
    before = DeltaTable.forPath(spark, log_path).history().first()["version"]

    def upkeep() -> dict:
        return compact_and_vacuum(spark, root, tables=(bronze_log.BRONZE_LOG,))

    with pytest.raises(NoLeaseError, match="refusing OPTIMIZE of"):
        upkeep()  # not under the stage: refused before writing
    with stage_lock(lake, "silver", lake.silver_bucket):  # bronze_to_silver or pos_live is writing
        skipped = run_exclusively(lake, "silver", lake.silver_bucket, upkeep)
    assert isinstance(skipped, Skipped) and "running in another process" in skipped.reason
    assert DeltaTable.forPath(spark, log_path).history().first()["version"] == before

    done = run_exclusively(lake, "silver", lake.silver_bucket, upkeep)
    assert done[bronze_log.BRONZE_LOG]["files_removed"] == 2 and done[bronze_log.BRONZE_LOG]["files_now"] == 1
    optimized = DeltaTable.forPath(spark, log_path).history().where("operation = 'OPTIMIZE'").first()
    assert optimized["userMetadata"].startswith(f"silver:{lake.silver_bucket} lease ")
