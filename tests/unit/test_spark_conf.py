from pathlib import Path

import pytest

from lakehouse.config import load_settings
from lakehouse.jars import JARS, JarError, jar_paths
from spark_jobs.session import assumed_role_conf, s3a_uri, spark_conf

pytestmark = pytest.mark.unit


def _settings_with_jars(tmp_path: Path, **environ: str):
    """Settings from .env.example; stage roles off unless asked for (on, S3A outside S3Proxy would
    ask STS for the Spark role's ARN)."""
    for jar in JARS:
        (tmp_path / jar.filename).write_bytes(b"")
    return load_settings(
        env_file=None, environ={"SPARK_JARS_DIR": str(tmp_path), "AWS_STAGE_ROLES": "false", **environ}
    )


def test_localstack_endpoint_gives_path_style_plain_http(tmp_path: Path):
    conf = spark_conf(
        _settings_with_jars(tmp_path, AWS_ENDPOINT_URL="http://127.0.0.1:4566", AWS_ENDPOINT_URL_S3="")
    )
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:4566"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.jars"].count(".jar") == len(JARS)


def test_s3_has_an_endpoint_of_its_own(tmp_path: Path):
    """The lake goes to the disk-backed S3 server, whatever serves the other AWS services."""
    conf = spark_conf(
        _settings_with_jars(
            tmp_path, AWS_ENDPOINT_URL="http://127.0.0.1:4566", AWS_ENDPOINT_URL_S3="http://127.0.0.1:4580"
        )
    )
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:4580"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"


def test_real_aws_leaves_the_endpoint_to_the_sdk(tmp_path: Path):
    conf = spark_conf(
        _settings_with_jars(tmp_path, AWS_ENDPOINT_URL="", AWS_ENDPOINT_URL_S3="", AWS_ACCESS_KEY_ID="")
    )
    assert "spark.hadoop.fs.s3a.endpoint" not in conf
    assert "spark.hadoop.fs.s3a.access.key" not in conf
    assert conf["spark.hadoop.fs.s3a.aws.credentials.provider"].endswith("DefaultAWSCredentialsProviderChain")


def test_cluster_master_comes_from_configuration(tmp_path: Path):
    conf = spark_conf(_settings_with_jars(tmp_path, SPARK_MASTER="spark://10.0.0.5:7077"))
    assert conf["spark.master"] == "spark://10.0.0.5:7077"
    assert conf["spark.sql.codegen.cache.maxEntries"] == "1000", "executors reuse compiled classes too"


@pytest.mark.parametrize("master", ["local[2]", "spark://10.0.0.5:7077"])
def test_delta_state_is_rebuilt_in_few_tasks_locally_and_on_a_cluster(tmp_path: Path, master: str):
    conf = spark_conf(_settings_with_jars(tmp_path, SPARK_MASTER=master))
    assert conf["spark.databricks.delta.snapshotPartitions"] == "2"
    # Well above the ~230 classes a silver run generates: the next run compiles them no more.
    assert int(conf["spark.sql.codegen.cache.maxEntries"]) >= 500


def test_missing_jars_say_how_to_fetch_them(tmp_path: Path):
    settings = load_settings(env_file=None, environ={"SPARK_JARS_DIR": str(tmp_path)})
    with pytest.raises(JarError, match="make setup"):
        jar_paths(settings)


def test_s3a_uri_joins_parts():
    assert s3a_uri("bucket", "/silver/", "sales") == "s3a://bucket/silver/sales"
    assert s3a_uri("bucket") == "s3a://bucket"


def test_a_long_lived_session_keeps_only_recent_job_records(tmp_path: Path):
    conf = spark_conf(_settings_with_jars(tmp_path))
    assert int(conf["spark.sql.ui.retainedExecutions"]) <= 100
    assert int(conf["spark.ui.retainedJobs"]) <= 100
    assert int(conf["spark.ui.retainedStages"]) <= 100
    assert int(conf["spark.databricks.delta.delta.log.cacheSize"]) <= 100, "Delta keeps few tables open"


def test_on_the_stacks_s3_server_s3a_keeps_the_static_key_with_stage_roles_on(tmp_path: Path):
    """S3Proxy refuses session credentials: no role for S3A there, and no STS call to find one."""
    conf = spark_conf(_settings_with_jars(tmp_path, AWS_STAGE_ROLES="true"))
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:4580"
    assert conf["spark.hadoop.fs.s3a.aws.credentials.provider"].endswith("SimpleAWSCredentialsProvider")
    assert not any(key.startswith("spark.hadoop.fs.s3a.assumed.role") for key in conf)


def test_s3a_assumes_the_spark_role_through_the_configured_sts(tmp_path: Path):
    role = "arn:aws:iam::000000000000:role/stock-lakehouse-spark"
    settings = _settings_with_jars(tmp_path, AWS_ENDPOINT_URL="http://127.0.0.1:4566", AWS_ENDPOINT_URL_S3="")
    conf = assumed_role_conf(settings, role)
    assert conf["spark.hadoop.fs.s3a.aws.credentials.provider"].endswith("auth.AssumedRoleCredentialProvider")
    assert conf["spark.hadoop.fs.s3a.assumed.role.arn"] == role
    assert conf["spark.hadoop.fs.s3a.assumed.role.sts.endpoint"] == "http://127.0.0.1:4566"
    assert conf["spark.hadoop.fs.s3a.assumed.role.sts.endpoint.region"] == settings.aws_region
    # The static key is the source that assumes the role.
    assert conf["spark.hadoop.fs.s3a.assumed.role.credentials.provider"].endswith(
        "SimpleAWSCredentialsProvider"
    )
    on_aws = assumed_role_conf(
        _settings_with_jars(tmp_path, AWS_ENDPOINT_URL="", AWS_ENDPOINT_URL_S3="", AWS_ACCESS_KEY_ID=""), role
    )
    assert "spark.hadoop.fs.s3a.assumed.role.sts.endpoint" not in on_aws
    assert on_aws["spark.hadoop.fs.s3a.assumed.role.credentials.provider"].endswith(
        "DefaultAWSCredentialsProviderChain"
    )
