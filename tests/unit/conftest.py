"""Fixtures of the unit tests: one local SparkSession for the whole run, and bronze text builders.

Unit tests need no service: Spark runs in this process on `local[2]` and Delta tables go to
temporary folders. The session is built by the project's factory (as the integration `spark`
fixture is, so a run of both shares one JVM).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import pytest

from ingestion.bronze_format import BronzeEvent, to_line
from lakehouse.config import load_settings
from tests.support.sample_events import payload

ARRIVAL = datetime(2026, 11, 22, 6, 1, tzinfo=UTC)
KEY = "raw/pos-events/ingest_date=2026-11-22/ingest_hour=06/shardId-000000000000/1-9.ndjson.gz"


@pytest.fixture(scope="session")
def local_spark() -> Iterator:
    from spark_jobs.session import spark_session

    session = spark_session("stock-lakehouse-tests", load_settings())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def bronze_line(event, sequence: int = 1, arrival: datetime = ARRIVAL) -> str:
    """One bronze line as ingestion writes it; `event` is a dict, JSON text or raw bytes."""
    bronze = BronzeEvent(
        "pos-events", "shardId-000000000000", str(sequence), 0, "S001", arrival, payload(event)
    )
    return to_line(bronze, arrival).decode("utf-8").rstrip("\n")


@pytest.fixture(scope="session")
def bronze_objects(local_spark) -> Callable:
    """Build [bronze_key, text] frames: {key: [event or ("raw", line text), ...]}."""

    def build(objects: dict[str, Sequence], arrival: datetime = ARRIVAL):
        rows = []
        for key, items in objects.items():
            lines = [
                item[1] if isinstance(item, tuple) else bronze_line(item, number, arrival)
                for number, item in enumerate(items, start=1)
            ]
            rows.append((key, "\n".join(lines) + "\n"))
        return local_spark.createDataFrame(rows, "bronze_key string, text string")

    return build
