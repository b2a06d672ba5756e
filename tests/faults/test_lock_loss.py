"""Lock loss: PostgreSQL restarts under a long silver writer, which stops; the new holder's commits follow.

A private PostgreSQL (its own port and run folder, started with the stack's code; the shared
stack's is never touched) holds the stage. Writer A, a real process with its own Spark, holds
silver's stage and commits one bronze log record after another to a Delta table on S3. The
test restarts PostgreSQL between two of A's commits, which ends A's lock session; B then takes
the stage (its token one higher) and commits. A's next commit is refused before it is made: A
exits with the lease message. Every Delta version has one writer, the versions run without a
gap, A's all come before B's, and every record either wrote is in the table once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from delta.tables import DeltaTable

from lakehouse.config import REPO_ROOT, Settings, load_settings
from lakehouse.locks import stage_lock
from ops.stack.cli import start_native
from ops.stack.components import components
from spark_jobs.session import s3a_uri
from spark_jobs.silver import bronze_log

pytestmark = pytest.mark.integration

PORT_OFFSET = 100  # beside the shared stack's PostgreSQL, apart from the other tests' private ones
ENTRIES = "bronze_key string, stream string, size long, lines long, accepted long, quarantined long"

# Writer A: holds silver's stage, commits record a-1, a-2, ... until its lease is refused.
_WRITER = f"""
import sys, time
from lakehouse.config import load_settings
from lakehouse.locks import LeaseLostError, stage_lock
from spark_jobs.session import s3a_uri, spark_session
from spark_jobs.silver import bronze_log
settings = load_settings()
spark = spark_session("lock-loss-writer", settings)
root = s3a_uri(sys.argv[1])
with stage_lock(settings, "silver", sys.argv[1]) as lease:
    print(f"token {{lease.token}}", flush=True)
    for n in range(1, 1000):
        rows = spark.createDataFrame([(f"a-{{n}}", "s", 1, 1, 1, 0)], "{ENTRIES}")
        try:
            entries = rows.selectExpr("*", "'a' as run_id", "now() as processed_at")
            bronze_log.record_processed(spark, root, entries)
        except LeaseLostError as lost:
            print(lost, file=sys.stderr, flush=True)
            sys.exit(3)
        print(f"committed a-{{n}}", flush=True)
        time.sleep(4)
"""


@pytest.fixture
def private_postgres(localstack: Settings) -> Iterator[tuple[dict[str, str], Settings]]:
    run_dir = tempfile.mkdtemp(prefix="lock-loss-")
    environment = {"STACK_RUN_DIR": run_dir, "POSTGRES_PORT": str(localstack.postgres_port + PORT_OFFSET)}
    private = load_settings(environ={**os.environ, **environment})
    started = start_native(private, ["postgres"], log=lambda message: None)
    try:
        yield environment, private
    finally:
        for component in started:
            component.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def _restart(settings: Settings) -> None:
    (postgres,) = [component for component in components(settings) if component.name == "postgres"]
    postgres.stop()
    start_native(settings, ["postgres"], log=lambda message: None)


def _read_line(writer: subprocess.Popen, deadline: float, errors: Path) -> str:
    line = writer.stdout.readline()
    if not line or time.monotonic() > deadline:
        pytest.fail(f"writer A ended or stalled: rc {writer.poll()}, stderr {errors.read_text()[-3000:]}")
    return line.strip()


def _tokens(history) -> list[int]:
    return [int(re.search(r" lease (\d+) ", row["userMetadata"])[1]) for row in history]


def test_a_writer_that_lost_its_lock_stops_and_no_version_has_two_writers(
    spark, own_lake, private_postgres, unique_name: str, tmp_path: Path
):
    environment, private = private_postgres
    bucket = own_lake(unique_name).silver_bucket
    root = s3a_uri(bucket)
    with stage_lock(private, "silver", bucket):
        bronze_log.ensure_log(spark, root)

    errors = tmp_path / "writer-a.stderr"  # a file: Spark's log would fill a pipe and block A
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, bucket],
        cwd=REPO_ROOT,
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=errors.open("w"),
        text=True,
    )
    try:
        deadline = time.monotonic() + 900
        a_token = int(_read_line(writer, deadline, errors).split()[1])
        assert _read_line(writer, deadline, errors) == "committed a-1"
        _restart(private)  # A sleeps between commits: its lock session ends before its next one
        with stage_lock(private, "silver", bucket) as b:
            assert b.token == a_token + 1
            rows = spark.createDataFrame([("b-1", "s", 1, 1, 1, 0)], ENTRIES)
            bronze_log.record_processed(
                spark, root, rows.selectExpr("*", "'b' as run_id", "now() as processed_at")
            )
        assert writer.wait(600) == 3
        refused = errors.read_text()
        assert f"lost its lease (token {a_token})" in refused and "lock session ended" in refused, refused
        written = [word for word in writer.stdout.read().split() if word.startswith("a-")]
    finally:
        if writer.poll() is None:
            writer.kill()

    history = DeltaTable.forPath(spark, bronze_log.log_path(root)).history().orderBy("version").collect()
    versions = [row["version"] for row in history]
    assert versions == list(range(len(versions)))  # one entry per version, no gap
    tokens = _tokens(history)
    assert tokens == sorted(tokens) and tokens[-1] == a_token + 1, tokens  # A's versions, then B's
    keys = sorted(
        row["bronze_key"] for row in spark.read.format("delta").load(bronze_log.log_path(root)).collect()
    )
    assert keys == sorted(["a-1", *written, "b-1"])
