"""The schedules' question "anything new?", answered from real S3 and PostgreSQL without Spark."""

from __future__ import annotations

import gzip
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ingestion.bronze_format import object_key
from lakehouse import progress
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.resources import ensure_bucket
from ops.mage import run_pipeline
from spark_jobs.schedule import GOLD, SILVER, gold_work, silver_work

pytestmark = pytest.mark.integration


@pytest.fixture
def lake(localstack: Settings, postgres: Settings) -> dict[str, str]:
    name = f"sched{uuid.uuid4().hex[:8]}"
    names = {"stream": name, "bronze_bucket": f"{name}-bronze", "silver_bucket": f"{name}-silver"}
    ensure_bucket(localstack, names["bronze_bucket"])
    return names


def put_bronze_object(settings: Settings, lake: dict[str, str]) -> None:
    key = object_key(lake["stream"], "shardId-000000000000", "1", "2", datetime.now(UTC))
    body = gzip.compress(b'{"raw": "{}"}\n')
    client("s3", settings).put_object(Bucket=lake["bronze_bucket"], Key=key, Body=body)


def check_silver(settings: Settings, lake: dict[str, str]) -> str | None:
    return silver_work(settings, lake["stream"], lake["bronze_bucket"], lake["silver_bucket"])


def silver_ran(settings: Settings, lake: dict[str, str], backlog: int = 0) -> None:
    """Record a silver run that began now and wrote nothing."""
    now = datetime.now(UTC)
    progress.record(settings, SILVER, lake["silver_bucket"], looked_at=now, backlog=backlog, wrote_at=None)


def test_silver_runs_first_then_only_for_new_or_waiting_bronze(localstack: Settings, lake: dict[str, str]):
    assert check_silver(localstack, lake) is None, "an empty bronze: nothing to start Spark for"

    put_bronze_object(localstack, lake)
    assert check_silver(localstack, lake) == "no earlier run recorded"
    time.sleep(progress.CLOCK_MARGIN.total_seconds() + 1)
    silver_ran(localstack, lake)
    assert check_silver(localstack, lake) is None, "the object predates the last run: nothing new"

    silver_ran(localstack, lake, backlog=3)
    assert check_silver(localstack, lake) == "3 bronze objects left by the last run"

    silver_ran(localstack, lake)
    put_bronze_object(localstack, lake)
    assert check_silver(localstack, lake).startswith("bronze object written at ")


def test_gold_runs_when_silver_wrote_since_its_last_run(localstack: Settings, postgres: Settings):
    schema, bucket = f"gold_{uuid.uuid4().hex[:8]}", f"silver-{uuid.uuid4().hex[:8]}"
    ensure_bucket(localstack, bucket)
    assert gold_work(postgres, schema, bucket) is None, "an empty silver: nothing to start Spark for"

    client("s3", localstack).put_object(Bucket=bucket, Key="sales_lines/_delta_log/0.json", Body=b"{}")
    assert gold_work(postgres, schema, bucket) == "no earlier run recorded"

    now = datetime.now(UTC)
    progress.record(postgres, GOLD, schema, looked_at=now, backlog=0, wrote_at=now)
    assert gold_work(postgres, schema, bucket) is None, "silver's first run has not finished"

    earlier = now - timedelta(minutes=5)
    progress.record(postgres, SILVER, bucket, looked_at=earlier, backlog=0, wrote_at=earlier)
    assert gold_work(postgres, schema, bucket) is None

    # A silver run that wrote nothing keeps the time of the last write.
    progress.record(postgres, SILVER, bucket, looked_at=now, backlog=0, wrote_at=None)
    assert gold_work(postgres, schema, bucket) is None

    progress.record(postgres, SILVER, bucket, looked_at=now, backlog=0, wrote_at=now + timedelta(seconds=30))
    assert gold_work(postgres, schema, bucket).startswith("silver wrote at ")


def test_an_idle_scheduled_run_does_not_start_spark(mage_server: Settings, lake: dict[str, str]):
    variables = dict(lake)
    fresh = run_pipeline("bronze_to_silver", settings=mage_server, variables=variables)
    assert fresh.succeeded, fresh.output[-4000:]
    assert "Spark not started" in fresh.output, f"an empty bronze starts no Spark:\n{fresh.output[-4000:]}"

    put_bronze_object(mage_server, lake)
    # Older than the clock margin when the first run lists, or the next run would take it again.
    time.sleep(progress.CLOCK_MARGIN.total_seconds() + 1)
    first = run_pipeline("bronze_to_silver", settings=mage_server, variables=variables)
    assert first.succeeded, first.output[-4000:]
    assert "silver: no earlier run recorded" in first.output

    idle = run_pipeline("bronze_to_silver", settings=mage_server, variables=variables)
    assert idle.succeeded, idle.output[-4000:]
    assert "Spark not started" in idle.output
