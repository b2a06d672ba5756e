"""The continuous path: one pass takes new Kinesis records to gold; a held stage lock is skipped."""

from __future__ import annotations

import uuid

import pytest

from ingestion.checkpoints import CheckpointStore
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.locks import StageBusyError, stage_lock
from producer import KinesisSink, Simulation, SimulationConfig
from spark_jobs.gold.job import GoldRun
from spark_jobs.gold.migrate import migrate
from spark_jobs.live import run_live, run_pass

pytestmark = pytest.mark.integration

CONFIG = SimulationConfig(seed=5, stores=2, products=20, days=3, bad_rate=0.0)


@pytest.fixture(scope="module")
def live(own_lake, postgres: Settings):
    """Settings with a stream, buckets, alerts channel and gold schema of their own."""
    name = f"live{uuid.uuid4().hex[:8]}"
    settings = own_lake(name)
    migrate(settings, f"gold_{name}", log=lambda message: None)  # as the owner: run_live only checks
    yield settings, f"gold_{name}"
    with CheckpointStore(settings, name) as store:
        store.reset()
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(f'drop schema if exists "gold_{name}" cascade')


def _gold_sale_lines(settings: Settings, schema: str) -> int:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(f'select count(*) from "{schema}".fact_sales')
        return cursor.fetchone()[0]


def test_a_held_lock_makes_a_second_holder_skip(postgres: Settings):
    with stage_lock(postgres, "silver", "some-bucket"):
        busy = pytest.raises(StageBusyError, match="silver of some-bucket is running in another process")
        with busy, stage_lock(postgres, "silver", "some-bucket"):
            pass
        with stage_lock(postgres, "silver", "another-bucket"):
            pass
    with stage_lock(postgres, "silver", "some-bucket"):
        pass  # released when the first block ended


def test_passes_take_new_records_to_gold_and_own_the_stages(live, spark):
    settings, schema = live
    simulation = Simulation(CONFIG)
    events = list(simulation)
    assert KinesisSink(settings).send(events).events_failed == 0
    sale_lines = sum(event.sale_lines for event in events)

    passes = run_live(spark, settings, schema, poll_seconds=0.1)
    first = next(passes)
    assert first.bronze_events == len(events)
    assert first.silver_events == len(events)
    assert isinstance(first.gold, GoldRun) and first.gold.mode == "full", first.as_dict()
    assert _gold_sale_lines(settings, schema) == sale_lines

    # While the loop runs, a scheduled run finds silver and gold taken and skips.
    for stage, target in (("silver", settings.silver_bucket), ("gold", schema)):
        with pytest.raises(StageBusyError), stage_lock(settings, stage, target):
            pass
    passes.close()
    with stage_lock(settings, "silver", settings.silver_bucket), stage_lock(settings, "gold", schema):
        pass  # released when the loop stopped

    # Nothing new and nothing due: a pass that does no work.
    idle = run_pass(spark, settings, schema, first=False)
    assert not idle.did_work, idle.as_dict()
