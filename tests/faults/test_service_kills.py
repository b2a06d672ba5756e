"""kill -9 of a service the pipelines depend on, in the middle of their work, then a restart and a normal run.

Each test starts a private copy of the service it kills (its own port, found free, and its own
folders, started with the stack's code as `make up` starts it), so the shared stack's processes
are never touched; the other services are the shared ones, with names of the test's own.

- PostgreSQL during a gold load: `mage run silver_to_gold` (a real process, as the schedule
  starts it) is seen inside its load transaction by pg_stat_activity, and the private
  PostgreSQL's postmaster and every process it forked get SIGKILL. The run fails with a message
  that says what happened and what to do; after the restart gold is exactly as before the run
  (no half-written load), the next run succeeds, fact_sales equals silver's sales lines as
  multisets, and load_runs has one row per successful load.
- Mage during a run: a private Mage server (its schedules on, their default names idle) runs
  bronze_to_silver, started through its API trigger; once the run has merged into a silver
  table, and before its bronze log, Mage's whole process group (server, scheduler, the run and
  its Spark JVM) gets SIGKILL. The stage lease the dead run left is not released, yet the run
  started through the API after Mage's restart takes the stage (a higher token) and
  completes; bronze = silver + quarantine and silver equals a clean run over the same bronze.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from psycopg2 import sql

from ingestion.drain import drain
from lakehouse.aws import client
from lakehouse.config import REPO_ROOT, Settings, load_settings
from lakehouse.db import connect
from lakehouse.mage_api import MageApi
from lakehouse.resources import ensure_bucket
from ops.mage import pipeline_command, run_pipeline
from ops.stack import process
from ops.stack.cli import start_native
from ops.stack.components import MageServer, Postgres, mage_environment
from producer import KinesisSink, Simulation, SimulationConfig
from spark_jobs.session import s3a_uri
from spark_jobs.silver.bronze_log import BRONZE_LOG
from spark_jobs.silver.job import run_bronze_to_silver
from spark_jobs.silver.tables import table_path
from tests.support.lake_checks import assert_silver_accounts_for_bronze, assert_silver_equals_a_clean_run

pytestmark = pytest.mark.faults

# About 1,100 events: two stores, four days; enough for a gold load that takes a while in Spark.
CONFIG = SimulationConfig(seed=16, stores=2, products=20, days=4, traffic_scale=0.3)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _quiet(message: str) -> None:
    """start_native's progress lines are for `make up`, not for a test."""


@pytest.fixture
def private_postgres(localstack: Settings) -> Iterator[Settings]:
    """A PostgreSQL of the test's own, bootstrapped as `make up` does (roles, ingestion and gold migrations).

    Its run folder is a fresh one in /tmp rather than under tmp_path: when the tests run as root,
    PostgreSQL runs as the `postgres` user, which must pass through every folder above its data,
    and pytest's base folder is the owner's alone.
    """
    run_dir = tempfile.mkdtemp(prefix="pg-kill-")
    environment = {"STACK_RUN_DIR": run_dir, "POSTGRES_PORT": str(_free_port())}
    private = load_settings(environ={**os.environ, **environment})
    start_native(private, ["postgres"], log=_quiet)
    try:
        yield private
    finally:
        Postgres(private).stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def _silver_from_a_simulation(spark, lake: Settings) -> int:
    """Simulated events sent to Kinesis, drained into bronze and run into silver; the event count."""
    events = list(Simulation(CONFIG))
    assert KinesisSink(lake).send(events).events_failed == 0
    drained = drain(lake)
    assert drained.events == len(events), drained
    summary = run_bronze_to_silver(spark, lake, stream=lake.kinesis_stream)
    assert summary.bronze_lines == len(events), summary
    return len(events)


def _gold_environment(lake: Settings, exports_bucket: str) -> dict[str, str]:
    """What a Mage block reads beyond the Settings fields: the gold schema and the exports bucket."""
    return {"GOLD_SCHEMA": lake.gold.schema, "EXPORTS_BUCKET": exports_bucket}


def _load_in_transaction(lake: Settings, running: subprocess.Popen, log: Path, timeout: float) -> str:
    """Wait until the gold load's transaction is at work on its staging tables; its current statement."""
    watch = """
        select query from pg_stat_activity
        where datname = %s and usename = %s and xact_start is not null
          and state in ('active', 'idle in transaction') and query ilike %s
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.poll() is not None:
            pytest.fail(f"silver_to_gold ended before its load was seen:\n{log.read_text()[-4000:]}")
        with connect(lake, owner=True) as connection, connection.cursor() as cursor:
            cursor.execute(watch, (lake.postgres_db, lake.postgres_user, "%stg\\_%"))
            row = cursor.fetchone()
        if row:
            return row[0]
        time.sleep(0.1)
    pytest.fail(f"no gold load transaction within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def _kill_9(server: Postgres) -> None:
    """SIGKILL to the postmaster and every process it forked at once, as `docker kill` does.

    The postmaster does not lead its backends' process groups (each backend takes a session of its
    own), so they are named one by one; a new postmaster starts only once they are all gone.
    """
    record = process.read_pid(server.pid_file)
    assert record is not None, "the private PostgreSQL is not running"
    postmaster = psutil.Process(record.pid)
    members = [postmaster, *postmaster.children(recursive=True)]
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(signal.SIGKILL)
    _, alive = psutil.wait_procs(members, timeout=30)
    assert not alive, f"PostgreSQL processes still run 30 s after SIGKILL: {alive}"


def _gold_row_counts(lake: Settings) -> dict[str, int]:
    """Rows of every table of the gold schema: what a load that committed nothing leaves unchanged."""
    schema = lake.gold.schema
    with connect(lake) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select table_name from information_schema.tables "
            "where table_schema = %s and table_type = 'BASE TABLE' order by 1",
            (schema,),
        )
        tables = [name for (name,) in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table)))
            counts[table] = cursor.fetchone()[0]
    return counts


def _fact_sales(lake: Settings) -> Counter:
    query = sql.SQL(
        "select event_id::text, line_number, store_id, sku, (extract(epoch from sold_at) * 1000000)::bigint, "
        "quantity, unit_price::text, discount::text, payment_method, coalesce(loyalty_id, '') "
        "from {}.fact_sales"
    ).format(sql.Identifier(lake.gold.schema))
    with connect(lake) as connection, connection.cursor() as cursor:
        cursor.execute(query)
        return Counter(tuple(row) for row in cursor.fetchall())


def _silver_sales(spark, lake: Settings) -> Counter:
    frame = spark.read.format("delta").load(table_path(s3a_uri(lake.silver_bucket), "sales_lines"))
    rows = frame.selectExpr(
        "cast(event_id as string)",
        "cast(line_number as int)",
        "store_id",
        "sku",
        "unix_micros(event_time)",
        "cast(quantity as int)",
        "cast(cast(unit_price as decimal(12, 2)) as string)",
        "cast(cast(coalesce(discount, 0) as decimal(12, 2)) as string)",
        "payment_method",
        "coalesce(loyalty_id, '')",
    ).collect()
    return Counter(tuple(row) for row in rows)


def test_gold_load_survives_a_kill_9_of_postgresql_mid_transaction(
    spark, own_lake, private_postgres: Settings, unique_name: str, tmp_path: Path
):
    names = own_lake(unique_name)  # stream, buckets, topic and queue on the shared LocalStack and S3
    lake = dataclasses.replace(
        names, stack_run_dir=private_postgres.stack_run_dir, postgres_port=private_postgres.postgres_port
    )
    exports_bucket = f"{unique_name}-exports"
    ensure_bucket(lake, exports_bucket)
    _silver_from_a_simulation(spark, lake)
    before = _gold_row_counts(lake)
    assert before["load_runs"] == before["fact_sales"] == 0

    environment = {**mage_environment(lake), **_gold_environment(lake, exports_bucket)}
    log = tmp_path / "killed-run.log"
    with log.open("w") as output:
        running = subprocess.Popen(
            pipeline_command("silver_to_gold"),
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        statement = _load_in_transaction(lake, running, log, timeout=600)
        _kill_9(Postgres(lake))
        returncode = running.wait(300)
    finally:
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)
            running.wait()
    said = log.read_text()
    assert returncode != 0, f"silver_to_gold succeeded although PostgreSQL was killed during:\n{statement}"
    words = " ".join(said.split())  # Mage's traceback wraps long lines
    for phrase in (
        f"ConnectionLostError: the connection to PostgreSQL ({lake.postgres_host}:{lake.postgres_port}",
        "was lost in the middle of a transaction",
        "none of this transaction's writes are in the database",
        "`make up` starts it again), then run this step again",
    ):
        assert phrase in words, f"the killed run does not say {phrase!r}:\n{said[-4000:]}"

    started = start_native(lake, ["postgres"], log=_quiet)  # what `make up` does for PostgreSQL
    assert [component.name for component in started] == ["postgres"]
    assert _gold_row_counts(lake) == before, "the killed load left rows in gold"

    rerun = run_pipeline("silver_to_gold", settings=lake, environment=_gold_environment(lake, exports_bucket))
    assert rerun.succeeded, f"silver_to_gold failed after PostgreSQL's restart:\n{rerun.output[-4000:]}"
    gold_sales, silver_sales = _fact_sales(lake), _silver_sales(spark, lake)
    assert sum(silver_sales.values()) > 0
    assert gold_sales == silver_sales
    after = _gold_row_counts(lake)
    assert after["load_runs"] == 1, "one load_runs row per successful load"


FINISHED = {"completed", "failed", "cancelled"}


@pytest.fixture
def private_mage(localstack: Settings, unique_name: str, tmp_path: Path, monkeypatch) -> Iterator[Settings]:
    """A Mage of the test's own (port, database, run folder), with its every-minute schedules.

    Its default names (stream, buckets, gold schema, queues) are idle ones, so the schedules
    find nothing to do; the test's runs name their lake in runtime variables.
    """
    idle = f"{unique_name}-idle"
    monkeypatch.setenv("GOLD_SCHEMA", f"gold_{unique_name}_idle")  # never migrated: gold's runs stop at once
    monkeypatch.setenv("CSV_LANDING_QUEUE", f"{idle}-landing")
    monkeypatch.setenv("EXPORTS_BUCKET", f"{idle}-exports")
    mage = dataclasses.replace(
        localstack,
        stack_run_dir=tmp_path / "run",
        mage_port=_free_port(),
        mage_data_dir=tmp_path / "run" / "mage_data",
        kinesis_stream=idle,
        bronze_bucket=f"{idle}-bronze",
        silver_bucket=f"{idle}-silver",
        alerts_topic=f"{idle}-alerts",
        alerts_queue=f"{idle}-inbox",
    )
    start_native(mage, ["mage"], log=_quiet)
    try:
        yield mage
    finally:
        MageServer(mage).stop()


def _silver_keys(lake: Settings) -> list[str]:
    s3 = client("s3", lake)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=lake.silver_bucket):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def _merged(keys: list[str]) -> tuple[list[str], bool]:
    """(event tables with a commit after their creation, whether the bronze log has one): a run's progress."""
    first_commit = "/_delta_log/00000000000000000001.json"
    tables = [key.removesuffix(first_commit) for key in keys if key.endswith(first_commit)]
    return [table for table in tables if table != BRONZE_LOG], BRONZE_LOG in tables


def _wait_for_a_merge(lake: Settings, api: MageApi, run_id: int, timeout: float) -> list[str]:
    """Until the run has merged into a silver table and not yet written its bronze log; those tables."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        merged, logged = _merged(_silver_keys(lake))
        assert not logged, f"the run wrote its bronze log before it was seen merging: {merged}"
        if merged:
            return merged
        status = api.get(f"/api/pipeline_runs/{run_id}")["pipeline_run"]["status"]
        assert status not in FINISHED, f"bronze_to_silver run {run_id} {status} before merging"
        time.sleep(0.3)
    pytest.fail(f"bronze_to_silver run {run_id} merged nothing within {timeout:.0f} s")


def _kill_9_group(component) -> None:
    """SIGKILL to the component's whole process group (the server, its runs, their Spark JVMs).

    A killed process stays a zombie until its parent reaps it (this test process, for the server
    it spawned), so the group counts as gone when nothing in it is left but zombies.
    """
    record = process.read_pid(component.pid_file)
    assert record is not None, f"the private {component.name} is not running"
    assert os.getpgid(record.pid) == record.pid, f"{component.name} does not lead its process group"
    os.killpg(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(record.pid, os.WNOHANG)
        if not _living_members(record.pid):
            return
        time.sleep(0.2)
    pytest.fail(f"{component.name}'s processes still run 30 s after SIGKILL: {_living_members(record.pid)}")


def _running(pid: int) -> bool:
    """True while `pid` runs; a zombie (killed, not yet reaped by its new parent) does not."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _living_members(group: int) -> list[psutil.Process]:
    living = []
    for member in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
            if os.getpgid(member.pid) == group and member.info["status"] != psutil.STATUS_ZOMBIE:
                living.append(member)
    return living


def _silver_lease(lake: Settings) -> tuple[int, str, object]:
    """(token, holder, released_at) of silver's lease on the lake's bucket."""
    with connect(lake) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select token, holder, released_at from ingestion.stage_leases "
            "where stage = 'silver' and target = %s",
            (lake.silver_bucket,),
        )
        return cursor.fetchone()


def _run_to_the_end(api: MageApi, variables: dict, timeout: float) -> dict:
    """A bronze_to_silver run started through the API trigger, waited for; the finished run."""
    run = api.trigger("bronze_to_silver", variables)
    deadline = time.monotonic() + timeout
    while run["status"] not in FINISHED:
        assert time.monotonic() < deadline, f"bronze_to_silver run {run['id']} still {run['status']}"
        time.sleep(3)
        run = api.get(f"/api/pipeline_runs/{run['id']}")["pipeline_run"]
    return run


def test_a_silver_run_survives_a_kill_9_of_mage_and_its_lease_does_not_block_the_next(
    spark, own_lake, private_mage: Settings, unique_name: str
):
    lake = own_lake(unique_name)
    events = list(Simulation(CONFIG))
    assert KinesisSink(lake).send(events).events_failed == 0
    assert drain(lake).events == len(events)
    variables = {
        "stream": lake.kinesis_stream,
        "bronze_bucket": lake.bronze_bucket,
        "silver_bucket": lake.silver_bucket,
    }

    api = MageApi(private_mage)
    run = api.trigger("bronze_to_silver", variables)
    merged = _wait_for_a_merge(lake, api, run["id"], timeout=600)
    _kill_9_group(MageServer(private_mage))
    killed_token, holder, released = _silver_lease(lake)
    assert released is None, "the killed run released its lease: it was not killed mid-run"
    holder_pid = int(holder.rsplit(" pid ", 1)[1])  # lakehouse.locks.holder_name: "<host> pid <pid>"
    assert not _running(holder_pid), f"the lease's holder still runs: {holder}"
    assert _merged(_silver_keys(lake))[1] is False, f"the killed run wrote its bronze log (merged {merged})"

    started = start_native(private_mage, ["mage"], log=_quiet)  # what `make up` does for Mage
    assert [component.name for component in started] == ["mage"]
    api = MageApi(private_mage)
    finished = _run_to_the_end(api, variables, timeout=900)
    assert finished["status"] == "completed", finished
    # Mage resumes the killed run after its restart: the API's run may have found the stage busy
    # (taken by the resumed run) and skipped. Whichever holds it, it must let go.
    deadline = time.monotonic() + 900
    while _silver_lease(lake)[2] is None and time.monotonic() < deadline:
        time.sleep(3)
    token, _, released = _silver_lease(lake)
    assert token > killed_token and released is not None, (token, killed_token, released)

    assert_silver_accounts_for_bronze(spark, lake, len(events))
    assert_silver_equals_a_clean_run(spark, lake, len(events))
