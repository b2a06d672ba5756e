"""The one place that builds SparkSessions: Delta Lake, S3A on the configured endpoint, cached jars.

Every job, Mage block, test and benchmark calls `spark_session()`, so moving to a cluster or to
real AWS is a change of `SPARK_MASTER` and the `AWS_ENDPOINT_URL*` variables in `.env`, nothing else.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.aws import endpoint_url, runs_on_stage_role, stage_role_arn
from lakehouse.config import Settings, load_settings
from lakehouse.jars import jar_paths

LOG_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"
# A partition with this many small files is compacted after the write (Delta's default is 50).
AUTO_COMPACT_MIN_FILES = 20
# Compiled query classes kept for reuse (Spark's default is 100). One silver run generates about
# 230 distinct classes (pos_live runs gold in the same JVM too), so with 100 every run evicted
# the classes the next identical run needed: ~220 compiles again, 3-4 s of a 14 s silver pass.
CODEGEN_CACHE_ENTRIES = 1000
SNAPSHOT_PARTITIONS = 2
_SIMPLE_CREDENTIALS = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
_DEFAULT_CREDENTIALS = "com.amazonaws.auth.DefaultAWSCredentialsProviderChain"


def spark_conf(settings: Settings) -> dict[str, str]:
    """Spark settings for Delta Lake and S3A, derived from the project configuration."""
    conf = {
        "spark.master": settings.spark_master,
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.driver.host": settings.spark_local_ip,
        "spark.driver.bindAddress": settings.spark_local_ip,
        "spark.ui.enabled": str(settings.spark_ui_enabled).lower(),
        # Progress bars garble logs that are not a terminal (Mage runs, `make demo`).
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}",
        "spark.jars": ",".join(str(path) for path in jar_paths(settings)),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.codegen.cache.maxEntries": str(CODEGEN_CACHE_ENTRIES),
        # Small local jobs: a handful of shuffle partitions beats the default 200.
        "spark.sql.shuffle.partitions": "8",
        # The driver keeps the status of past jobs, stages and SQL executions (with per-task
        # metric arrays) even with the UI off. A long-lived session (pos_live, a test session)
        # runs thousands of small jobs; at Spark's defaults their records filled a 2 GiB heap
        # and the driver spent its time in full GCs. Keep only the recent ones.
        "spark.ui.retainedJobs": "100",
        "spark.ui.retainedStages": "100",
        "spark.ui.retainedTasks": "10000",
        "spark.sql.ui.retainedExecutions": "50",
        "spark.ui.dagGraph.retainedRootRDDs": "100",
        # Delta keeps every table it has opened (its log and cached snapshot state) in a cache of
        # 10,000 by default. A test session opens a few thousand tables of unique names, and its
        # 2 GiB driver spent 25 minutes of 50 in full GCs (jstat: 1,000 full GCs, old generation
        # 88 % full). A process writes a dozen tables at most (pos_live): keep a few dozen.
        "spark.databricks.delta.delta.log.cacheSize": "64",
        # Under load the listener bus drops events past this many (a stage whose end is
        # dropped keeps its live metrics forever): room for bursts of small jobs.
        "spark.scheduler.listenerbus.eventqueue.capacity": "100000",
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            _SIMPLE_CREDENTIALS if settings.aws_access_key_id else _DEFAULT_CREDENTIALS
        ),
        "spark.hadoop.fs.s3a.endpoint.region": settings.aws_region,
        # Delta's S3 log store: one writer at a time per table, which the jobs guarantee.
        "spark.delta.logStore.s3a.impl": "io.delta.storage.S3SingleDriverLogStore",
        # Every silver run adds a small file to each partition and log table it writes (pos_live:
        # thousands a day), and the next runs' duplicate and bronze-log reads open them all.
        # Auto compaction rewrites a partition's small files once it has this many, right after
        # the write that crossed the line, by the same (single) writer.
        "spark.databricks.delta.autoCompact.enabled": "true",
        "spark.databricks.delta.autoCompact.minNumFiles": str(AUTO_COMPACT_MIN_FILES),
        # Delta rebuilds a table's state from its log in this many tasks on every first read and
        # every new version. Its default, 50, is sized for logs of millions of files; these logs
        # are small (auto compaction, checkpoints), so the tasks were mostly overhead: half the
        # time of a silver run on two local cores, and on a standalone cluster with one executor
        # core 700 of a silver run's 760 tasks. Raise it for tables of millions of files.
        "spark.databricks.delta.snapshotPartitions": str(SNAPSHOT_PARTITIONS),
    }
    if settings.aws_access_key_id:
        conf["spark.hadoop.fs.s3a.access.key"] = settings.aws_access_key_id
        conf["spark.hadoop.fs.s3a.secret.key"] = settings.aws_secret_access_key
    s3_endpoint = endpoint_url("s3", settings)
    if s3_endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = s3_endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(s3_endpoint.startswith("https")).lower()
        # A local S3 server answers at once; fail fast instead of Hadoop's long default retries.
        conf["spark.hadoop.fs.s3a.attempts.maximum"] = "3"
        conf["spark.hadoop.fs.s3a.retry.limit"] = "3"
    if runs_on_stage_role("s3", settings):
        conf |= assumed_role_conf(settings, stage_role_arn(settings, "spark"))
    return conf


def assumed_role_conf(settings: Settings, role_arn: str) -> dict[str, str]:
    """S3A on the Spark stage's role: hadoop-aws assumes it through STS and renews it itself.

    The static key (or AWS's default chain) is only the source that assumes the role. Not used on
    the stack's S3Proxy, which refuses session credentials (lakehouse.aws.s3_on_own_server): there
    S3A keeps the static key.
    """
    conf = {
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "org.apache.hadoop.fs.s3a.auth.AssumedRoleCredentialProvider"
        ),
        "spark.hadoop.fs.s3a.assumed.role.arn": role_arn,
        "spark.hadoop.fs.s3a.assumed.role.credentials.provider": (
            _SIMPLE_CREDENTIALS if settings.aws_access_key_id else _DEFAULT_CREDENTIALS
        ),
        "spark.hadoop.fs.s3a.assumed.role.session.name": f"spark-{os.getpid()}",
        "spark.hadoop.fs.s3a.assumed.role.session.duration": "1h",
    }
    if settings.aws_endpoint_url:
        conf["spark.hadoop.fs.s3a.assumed.role.sts.endpoint"] = settings.aws_endpoint_url
        conf["spark.hadoop.fs.s3a.assumed.role.sts.endpoint.region"] = settings.aws_region
    return conf


def spark_session(app_name: str = "stock-lakehouse", settings: Settings | None = None) -> SparkSession:
    """Get or create the SparkSession for this process, configured from `.env`."""
    settings = settings or load_settings()
    # Spark reads SPARK_LOCAL_IP when it picks the address of its block manager and RPC server.
    os.environ.setdefault("SPARK_LOCAL_IP", settings.spark_local_ip)
    # Python workers run this interpreter (the project's virtualenv), not whatever python3 is on
    # PATH; on a cluster, set PYSPARK_PYTHON to the executors' interpreter instead.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def s3a_uri(bucket: str, *parts: str) -> str:
    """`s3a://bucket/part/part`, the form Spark's S3A connector reads and writes."""
    suffix = "/".join(part.strip("/") for part in parts if part)
    return f"s3a://{bucket}/{suffix}" if suffix else f"s3a://{bucket}"
