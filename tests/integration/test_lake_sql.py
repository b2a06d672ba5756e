"""`make lake-sql`: silver's tables and bronze answer SQL by name, through the project's Spark session."""

from __future__ import annotations

import dataclasses

import pytest

from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.resources import ensure_bucket
from ops.lake_sql import register, run_statement, statements
from spark_jobs.silver.job import run_bronze_to_silver
from tests.support import sample_events as se

pytestmark = pytest.mark.integration


@pytest.fixture
def lake(localstack: Settings, unique_name: str) -> Settings:
    lake = dataclasses.replace(
        localstack,
        kinesis_stream=se.STREAM,
        bronze_bucket=f"{unique_name}-bronze",
        silver_bucket=f"{unique_name}-silver",
    )
    ensure_bucket(lake, lake.bronze_bucket)
    return lake


def test_silver_tables_and_bronze_answer_by_name(spark, lake: Settings, capsys):
    events = [
        se.store_event("S001"),
        se.product_event("SKU-00001"),
        se.sale_event("S001", [se.sale_line(1, "SKU-00001", 2), se.sale_line(2, "SKU-00001")]),
        b"{not json",
    ]
    made = se.bronze_object(events)
    client("s3", lake).put_object(Bucket=lake.bronze_bucket, Key=made.key, Body=made.body)
    run_bronze_to_silver(spark, lake)

    registered = register(spark, lake)
    assert registered["sales_lines"].endswith("/sales_lines")
    assert registered["bronze"].startswith(f"s3a://{lake.bronze_bucket}/")

    assert spark.sql("select sum(quantity) from sales_lines").first()[0] == 3
    assert spark.sql("select count(*) from bronze").first()[0] == 4
    assert spark.sql("select reason from quarantine").first()[0] == "malformed_json"
    assert run_statement(spark, "select store_id, count(*) as lines from sales_lines group by store_id")
    assert "S001" in capsys.readouterr().out
    assert not run_statement(spark, "select * from no_such_table")
    assert "error:" in capsys.readouterr().err


def test_statements_end_at_semicolons():
    lines = ["-- a comment", "select 1", "  from x;", "", "select 2;", "select 3"]
    assert list(statements(iter(lines))) == ["select 1 from x", "select 2", "select 3"]
