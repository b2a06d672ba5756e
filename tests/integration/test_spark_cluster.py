"""The same jobs on a Spark standalone cluster: bronze to silver to gold through Mage, equal to local[2].

`SPARK_MASTER=spark://host:port` is how the jobs leave the laptop. Here a master and one worker
(1 core, 1 GiB) run on 127.0.0.1 from pyspark's own launcher (ops/spark_cluster.py); Mage runs
`bronze_to_silver` and `silver_to_gold` with SPARK_MASTER pointing at it, so every task runs in
an executor JVM that gets jars and S3 settings only from spark_jobs/session.py. The same bronze
then goes through the same jobs on local[2], and the silver tables and gold tables of both runs
must hold the same rows (as multisets, without the columns that record when a row was loaded).

While Mage runs, every process this test started (cluster, executors, Mage's Spark driver) is
sampled: each listening socket must be on loopback, and the executors must run with
SPARK_LOCAL_IP=127.0.0.1 and load the jars the driver serves them (`spark.jars`), which they
fetch into their own working folder.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from psycopg2 import sql

from ingestion.bronze_format import BronzeEvent, encode_object, object_key
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.jars import jar_paths
from lakehouse.resources import ensure_bucket
from ops.mage import run_pipeline
from ops.spark_cluster import HOST, StandaloneCluster
from producer import Simulation, SimulationConfig
from spark_jobs.gold.job import run_silver_to_gold
from spark_jobs.gold.migrate import migrate
from spark_jobs.session import s3a_uri
from spark_jobs.silver.job import run_bronze_to_silver
from spark_jobs.silver.tables import EVENT_TABLES, QUARANTINE, table_path

pytestmark = pytest.mark.integration

# Two weeks of two stores with every kind of bad input: about 7,700 events, 16,000 sale lines.
# Under-ordering makes shelves run empty, so gold has alerts to compare (as in the end-to-end test):
# with calibrated probabilities this small chain raised none otherwise.
SIMULATION = SimulationConfig(
    seed=22, stores=2, products=40, days=14, bad_rate=0.03, traffic_scale=0.3, under_order_probability=0.5
)
EVENTS_PER_OBJECT = 1_000
SHARD = "shardId-000000000000"
# A guard against a hung run, not a timing target: each run takes 1-2 minutes on 2 quiet cores,
# over ten at a load average of 40.
MAGE_TIMEOUT_SECONDS = 1800
SILVER_TABLES = (*[spec.name for spec in EVENT_TABLES], QUARANTINE)
GOLD_TABLES = (
    "dim_store",
    "dim_product",
    "fact_sales",
    "fact_inventory_snapshot",
    "agg_sales_store_daily",
    "stock_position",
    "stock_forecast",
    "stock_alerts",
    "open_orders",
    "promotion_calendar",
)
# Columns that say when or in which order a run wrote a row, not what the row holds.
WHEN_WRITTEN = {
    "loaded_at",
    "quarantined_at",
    "refreshed_at",
    "updated_at",
    "first_seen_at",
    "last_seen_at",
    "escalated_at",
    "resolved_at",
    "published_at",
    "product_key",
    "alert_id",
    # Whether SNS has the alert yet: the cluster's run goes through Mage's publish block, the
    # local reference run does not publish. What the alert says is compared; its delivery is not.
    "needs_publish",
    "published_severity",
    "published_version",
}


@dataclasses.dataclass
class Sockets:
    """What the processes this test started listen on, and the executors' environment, while sampled."""

    listening: set[tuple[str, str, int]] = dataclasses.field(default_factory=set)
    executor_local_ips: set[str | None] = dataclasses.field(default_factory=set)
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def sample(self) -> None:
        for process in psutil.Process(os.getpid()).children(recursive=True):
            try:
                command = " ".join(process.cmdline())
                name = command.split()[-1] if "org.apache.spark.deploy" in command else process.name()
                if "CoarseGrainedExecutorBackend" in command:
                    name = "executor"
                    self.executor_local_ips.add(process.environ().get("SPARK_LOCAL_IP"))
                for connection in process.connections(kind="inet"):
                    if connection.status == psutil.CONN_LISTEN:
                        self.listening.add((name, connection.laddr.ip, connection.laddr.port))
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.sample()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[StandaloneCluster]:
    """A master and one worker (1 core, 1 GiB) on loopback, stopped with their executors whatever happens.

    Their logs and the executors' working folders stay in pytest's temporary folder.
    """
    with StandaloneCluster(
        cores=1, memory="1g", work_dir=tmp_path_factory.mktemp("spark-cluster")
    ) as running:
        yield running


def put_bronze(settings: Settings, stream: str, bucket: str) -> int:
    """The simulation's events as ingestion writes them (gzip NDJSON objects), in the order sent."""
    events = list(Simulation(SIMULATION))
    s3, arrival, sequence = client("s3", settings), datetime.min.replace(tzinfo=UTC), 0
    for first in range(0, len(events), EVENTS_PER_OBJECT):
        chunk = []
        for event in events[first : first + EVENTS_PER_OBJECT]:
            sequence += 1
            sent = datetime.fromtimestamp(event.event_time_ms / 1000, UTC) + timedelta(seconds=1)
            arrival = max(arrival, sent)
            chunk.append(
                BronzeEvent(stream, SHARD, f"{sequence:056d}", 0, event.partition_key, arrival, event.payload)
            )
        ingested_at = arrival + timedelta(seconds=2)
        key = object_key(stream, SHARD, chunk[0].sequence_number, chunk[-1].sequence_number, ingested_at)
        s3.put_object(Bucket=bucket, Key=key, Body=encode_object(chunk, ingested_at))
    return len(events)


@pytest.fixture(scope="module")
def lake(own_lake, postgres: Settings) -> Iterator[dict]:
    """One bronze bucket; a silver bucket and a migrated gold schema for each of the two runs."""
    name = f"clu{uuid.uuid4().hex[:8]}"
    settings = own_lake(name)
    runs = {
        "cluster": (settings.silver_bucket, f"gold_{name}_cluster"),
        "local": (f"{name}-local", f"gold_{name}_local"),
    }
    ensure_bucket(settings, runs["local"][0])
    for _, schema in runs.values():
        migrate(settings, schema, log=lambda message: None)
    events = put_bronze(settings, settings.kinesis_stream, settings.bronze_bucket)
    yield {"settings": settings, "runs": runs, "events": events}
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        for _, schema in runs.values():
            cursor.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def run_through_mage(settings: Settings, lake: dict) -> None:
    silver_bucket, schema = lake["runs"]["cluster"]
    stream, bronze = lake["settings"].kinesis_stream, lake["settings"].bronze_bucket
    silver = run_pipeline(
        "bronze_to_silver",
        {"stream": stream, "bronze_bucket": bronze, "silver_bucket": silver_bucket},
        settings=settings,
        timeout=MAGE_TIMEOUT_SECONDS,
    )
    assert silver.succeeded, silver.output[-4000:]
    assert "1/1 tests passed" in silver.output
    gold = run_pipeline(
        "silver_to_gold",
        {"silver_bucket": silver_bucket, "gold_schema": schema},
        settings=settings,
        timeout=MAGE_TIMEOUT_SECONDS,
    )
    assert gold.succeeded, gold.output[-4000:]
    assert "'mode': 'full'" in gold.output, gold.output[-4000:]


def silver_rows(spark, bucket: str, table: str) -> Counter:
    frame = spark.read.format("delta").load(table_path(s3a_uri(bucket), table))
    kept = [column for column in frame.columns if column not in WHEN_WRITTEN]
    return Counter(hashable(row) for row in frame.select(*kept).collect())


def gold_rows(settings: Settings, schema: str, table: str) -> Counter:
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
            "order by ordinal_position",
            (schema, table),
        )
        columns = [column for (column,) in cursor.fetchall() if column not in WHEN_WRITTEN]
        assert columns, f"{schema}.{table} does not exist"
        query = sql.SQL("select {} from {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema, table)
        )
        cursor.execute(query)
        return Counter(hashable(row) for row in cursor.fetchall())


def hashable(row) -> tuple:
    """The row as a tuple that can be counted: array columns (a promotion's stores, an order's
    lines) come back as lists from both Spark and psycopg2."""
    return tuple(hashable(value) if isinstance(value, list | tuple) else value for value in row)


def differences(cluster_rows: Counter, local_rows: Counter) -> str:
    only_cluster, only_local = cluster_rows - local_rows, local_rows - cluster_rows
    return (
        f"{sum(only_cluster.values())} rows only on the cluster (e.g. {list(only_cluster)[:2]}), "
        f"{sum(only_local.values())} only on local[2] (e.g. {list(only_local)[:2]})"
    )


def test_the_jobs_on_a_standalone_cluster_through_mage_equal_local(
    cluster: StandaloneCluster, lake: dict, spark
):
    assert spark.sparkContext.master.startswith("local["), "the reference run is a local one"
    on_cluster = dataclasses.replace(lake["settings"], spark_master=cluster.url)
    sockets = Sockets()
    sampler = threading.Thread(target=sockets.run, daemon=True)
    sampler.start()
    try:
        run_through_mage(on_cluster, lake)
    finally:
        sockets.stop.set()
        sampler.join()

    # The runs went to the cluster: the master lists both applications, each given the worker's core.
    applications = {app["name"]: app for app in cluster.status()["completedapps"]}
    assert {"bronze-to-silver", "silver-to-gold"} <= applications.keys(), applications.keys()
    assert all(app["cores"] == 1 for app in applications.values()), applications

    # Nothing this test started listened beyond loopback; executors ran with SPARK_LOCAL_IP set.
    assert any(name == "executor" for name, _, _ in sockets.listening), sockets.listening
    wide = {entry for entry in sockets.listening if entry[1] not in (HOST, f"::ffff:{HOST}")}
    assert not wide, f"listening beyond {HOST}: {wide}"
    assert sockets.executor_local_ips == {HOST}, sockets.executor_local_ips

    # Each executor fetched every jar of the session factory's spark.jars from the driver.
    executor_dirs = [path for path in Path(cluster.work_dir, "work").glob("app-*/*") if path.is_dir()]
    assert len(executor_dirs) >= 2, executor_dirs
    wanted = {path.name for path in jar_paths(lake["settings"])}
    for folder in executor_dirs:
        assert wanted <= {path.name for path in folder.glob("*.jar")}, f"{folder} lacks some of {wanted}"

    # The reference: the same bronze through the same jobs on local[2].
    local_bucket, local_schema = lake["runs"]["local"]
    settings = lake["settings"]
    silver = run_bronze_to_silver(
        spark, settings, settings.kinesis_stream, settings.bronze_bucket, local_bucket
    )
    assert silver.reconciliation_holds and silver.bronze_lines == lake["events"], silver
    gold = run_silver_to_gold(spark, settings, local_bucket, schema=local_schema, publish=False)
    assert gold.mode == "full"

    cluster_bucket, cluster_schema = lake["runs"]["cluster"]
    for table in SILVER_TABLES:
        on_cluster_rows, local_rows = (
            silver_rows(spark, cluster_bucket, table),
            silver_rows(spark, local_bucket, table),
        )
        assert on_cluster_rows, f"silver {table} is empty: the comparison would prove nothing"
        assert on_cluster_rows == local_rows, f"silver {table}: {differences(on_cluster_rows, local_rows)}"
    for table in GOLD_TABLES:
        on_cluster_rows = gold_rows(settings, cluster_schema, table)
        local_rows = gold_rows(settings, local_schema, table)
        assert on_cluster_rows, f"gold {table} is empty: the comparison would prove nothing"
        assert on_cluster_rows == local_rows, f"gold {table}: {differences(on_cluster_rows, local_rows)}"
