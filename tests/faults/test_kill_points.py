"""Each stage killed with SIGKILL at its named points (lakehouse/faults.py), then run again.

Every run is a real `mage run` of the stage's pipeline, as the every-minute schedules start it,
with `FAULT_AT` in its environment: the process dies where the point stands, with no `finally`,
no context manager and no atexit hook run, as on a pulled plug. After the kills a normal run
of the same pipeline finishes the work, and the layers must hold what a clean run gives:

- kinesis_to_bronze, killed during a bronze put and after a put before its checkpoint: every
  produced event is in bronze exactly once;
- bronze_to_silver, killed after its second MERGE and before the bronze log record: bronze =
  silver + quarantine, and silver equals a clean run over the same bronze, as multisets of rows.

silver_to_gold's points (after gold's commit, between an SNS publish and its outbox update) are
killed in tests/integration/test_gold_alerts.py, which runs the publisher as a real process.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from lakehouse.config import Settings
from ops.mage import PipelineRun, run_pipeline
from producer import KinesisSink, Simulation, SimulationConfig
from tests.support.lake_checks import (
    assert_bronze_holds_each_event_once,
    assert_silver_accounts_for_bronze,
    assert_silver_equals_a_clean_run,
)
from tests.support.pipeline_lake import pipeline_lake

pytestmark = pytest.mark.faults

# Under-ordering makes shelves run empty within days, so the gold run has alerts to publish.
CONFIG = SimulationConfig(seed=33, stores=2, products=30, days=6, bad_rate=0.03, traffic_scale=0.4)
KILLED = "FAULT_AT: killing process"


@pytest.fixture(scope="module")
def lake(own_lake, postgres: Settings) -> Iterator[Settings]:
    """Stream, buckets, topic, queue and gold schema of this module's own."""
    with pipeline_lake(own_lake, "kill") as settings:
        yield settings


@pytest.fixture(scope="module")
def events(lake: Settings) -> list:
    simulation = Simulation(CONFIG)
    produced = list(simulation)
    assert KinesisSink(lake).send(produced).events_failed == 0
    return produced


def killed_run(pipeline: str, settings: Settings, point: str) -> PipelineRun:
    """`mage run` of `pipeline` with FAULT_AT=point: it must die there, by SIGKILL."""
    run = run_pipeline(pipeline, settings=settings, environment={"FAULT_AT": point})
    assert not run.succeeded, f"{pipeline} with FAULT_AT={point} finished; the point was never reached"
    assert KILLED in run.output, f"{pipeline} failed before reaching {point}:\n{run.output[-4000:]}"
    assert run.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL, 1), run.returncode
    return run


def normal_run(pipeline: str, settings: Settings) -> PipelineRun:
    run = run_pipeline(pipeline, settings=settings)
    assert run.succeeded, f"{pipeline} failed after the kills:\n{run.output[-4000:]}"
    return run


def test_bronze_killed_during_a_put_and_before_its_checkpoint_holds_each_event_once(lake, events):
    killed_run("kinesis_to_bronze", lake, "bronze.during_put")
    killed_run("kinesis_to_bronze", lake, "bronze.after_put")
    normal_run("kinesis_to_bronze", lake)
    assert_bronze_holds_each_event_once(lake, events)


def test_silver_killed_after_a_merge_and_before_its_bronze_log_equals_a_clean_run(lake, events, spark):
    killed_run("bronze_to_silver", lake, "silver.after_merge@2")
    killed_run("bronze_to_silver", lake, "silver.before_bronze_log")
    normal_run("bronze_to_silver", lake)

    assert_silver_accounts_for_bronze(spark, lake, len(events))
    assert_silver_equals_a_clean_run(spark, lake, len(events))
