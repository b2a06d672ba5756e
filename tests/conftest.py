"""Session fixtures that give tests the real services.

A service that already answers (for example a stack started with `make up`) is reused and left
running; one that does not is started here, from the same code as `make up`, and stopped at
the end of the session. Tests create uniquely named streams, buckets and schemas, because
LocalStack has no reset and a reused stack may hold earlier data.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator

import pytest

from lakehouse.config import Settings, load_settings
from lakehouse.resources import ensure_alerts_channel, ensure_bucket, ensure_stream
from ops.stack.cli import start_native
from ops.stack.components import Component


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def _started() -> Iterator[list[Component]]:
    """Components this test session started, stopped in reverse order at its end."""
    started: list[Component] = []
    yield started
    for component in reversed(started):
        component.stop()


def _ensure(settings: Settings, started: list[Component], name: str) -> None:
    started.extend(start_native(settings, [name], log=lambda message: None))


@pytest.fixture(scope="session")
def localstack(settings: Settings, _started: list[Component]) -> Settings:
    """Settings pointing at a healthy LocalStack and the lake's S3 server beside it."""
    _ensure(settings, _started, "s3")
    _ensure(settings, _started, "localstack")
    return settings


@pytest.fixture(scope="session")
def postgres(settings: Settings, _started: list[Component]) -> Settings:
    """Settings pointing at a healthy PostgreSQL with the project database."""
    _ensure(settings, _started, "postgres")
    return settings


@pytest.fixture(scope="session")
def mage_server(localstack: Settings, postgres: Settings, _started: list[Component]) -> Settings:
    """Settings pointing at a healthy Mage server (after LocalStack and PostgreSQL)."""
    _ensure(localstack, _started, "mage")
    return localstack


@pytest.fixture(scope="session")
def whole_stack(mage_server: Settings, _started: list[Component]) -> Settings:
    """Every component `make up` starts healthy, the dashboard and the read API included."""
    _ensure(mage_server, _started, "dashboard")
    _ensure(mage_server, _started, "api")
    return mage_server


@pytest.fixture(scope="session")
def spark(localstack: Settings):
    """One SparkSession for the test session, built by the project's factory.

    It outlives every process the pipelines run (hundreds of test tables, thousands of jobs), so
    it gets twice the heap of a pipeline's driver: at 2 GiB a whole-suite run spent half its time
    in full GCs.
    """
    from spark_jobs.session import spark_session

    settings = dataclasses.replace(localstack, spark_driver_memory="4g")
    session = spark_session("stock-lakehouse-tests", settings)
    yield session
    session.stop()


@pytest.fixture
def unique_name() -> str:
    """A short name no other test run has used, for streams, buckets and schemas."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def own_lake(localstack: Settings) -> Callable[[str], Settings]:
    """`own_lake(name)`: Settings whose stream, buckets, topic and queue are named after `name`, created."""

    def create(name: str) -> Settings:
        lake = dataclasses.replace(
            localstack,
            kinesis_stream=name,
            bronze_bucket=f"{name}-bronze",
            silver_bucket=f"{name}-silver",
            alerts_topic=f"{name}-alerts",
            alerts_queue=f"{name}-alerts-inbox",
        )
        ensure_stream(lake)
        ensure_bucket(lake, lake.bronze_bucket)
        ensure_bucket(lake, lake.silver_bucket)
        ensure_alerts_channel(lake)
        return lake

    return create
