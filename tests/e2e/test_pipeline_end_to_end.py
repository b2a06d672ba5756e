"""Producer -> Kinesis -> bronze -> silver -> gold -> alerts on SNS/SQS, all real, through Mage.

The simulation is sent in two parts with a full pipeline pass after each, the way the
every-minute schedules see it: the alerts open after the first pass are then judged against
the stockouts the ground truth records after it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from lakehouse.config import Settings
from lakehouse.db import connect
from ops.mage import run_pipeline
from producer import KinesisSink, Simulation, SimulationConfig
from spark_jobs.gold.alerts import latest_alerts
from tests.support.lake_checks import (
    assert_bronze_holds_each_event_once,
    assert_silver_accounts_for_bronze,
    gold_revenue,
    silver_revenue,
    truth_revenue,
)
from tests.support.pipeline_lake import pipeline_lake

pytestmark = pytest.mark.e2e

DAYS, SPLIT_DAY = 14, 10
CONFIG = SimulationConfig(
    seed=21, stores=3, products=60, days=DAYS, bad_rate=0.03, traffic_scale=0.5, under_order_probability=0.5
)
# What silver must call each injected defect; late events are valid and must not be quarantined.
EXPECTED_REASONS = {
    "malformed_json": {"malformed_json"},
    "missing_field": {"missing_field"},
    "wrong_type": {"wrong_type"},
    "bad_quantity": {"non_positive_quantity", "negative_quantity", "discount_out_of_range"},
    "unknown_sku": {"unknown_sku"},
    "duplicate_event_id": {"duplicate_event_id"},
}


@pytest.fixture(scope="module")
def e2e(own_lake, postgres: Settings):
    """Settings with names of their own: stream, buckets, topic, queue and gold schema."""
    with pipeline_lake(own_lake, "e2e") as settings:
        yield settings


def run_all_stages(settings: Settings) -> None:
    for pipeline in ("kinesis_to_bronze", "bronze_to_silver", "silver_to_gold"):
        run = run_pipeline(pipeline, settings=settings)
        assert run.succeeded, f"{pipeline} failed:\n{run.output[-4000:]}"


def test_events_flow_through_every_layer_and_alerts_precede_stockouts(e2e: Settings, spark):
    simulation = Simulation(CONFIG)
    events = list(simulation)
    truth = simulation.truth
    split_ms = int(datetime(*CONFIG.start_date.timetuple()[:3], tzinfo=UTC).timestamp() * 1000)
    split_ms += SPLIT_DAY * 86_400_000
    cut = next(index for index, event in enumerate(events) if event.event_time_ms >= split_ms)

    delivery = KinesisSink(e2e).send(events[:cut])
    assert delivery.events_failed == 0
    run_all_stages(e2e)
    gold_schema = os.environ["GOLD_SCHEMA"]
    with connect(e2e) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"select store_id, sku, kind, stockout_probability "
            f'from "{gold_schema}".stock_alerts where resolved_at is null'
        )
        open_alerts = cursor.fetchall()
    open_after_first_pass = {(store, sku) for store, sku, kind, _ in open_alerts if kind != "overstock"}
    risk_after_first_pass = {
        (store, sku): float(probability)
        for store, sku, kind, probability in open_alerts
        if kind == "stockout_risk" and probability is not None
    }

    delivery = KinesisSink(e2e).send(events[cut:])
    assert delivery.events_failed == 0
    run_all_stages(e2e)

    lines = assert_bronze_holds_each_event_once(e2e, events)
    quarantine = assert_silver_accounts_for_bronze(spark, e2e, len(lines))

    # Every injected defect is quarantined with the right reason; late events are not.
    quarantined = quarantine.select("event_id", "reason", "payload").collect()
    reasons_by_id = defaultdict(set)
    reasons_by_payload = defaultdict(set)
    for row in quarantined:
        reasons_by_id[row["event_id"]].add(row["reason"])
        reasons_by_payload[row["payload"]].add(row["reason"])
    by_seq = {event.seq: event for event in events}
    for bad in truth.bad_events:
        expected = EXPECTED_REASONS.get(bad["class"])
        if expected is None:
            assert not reasons_by_id.get(bad["event_id"]), f"late event quarantined: {bad}"
            continue
        found = reasons_by_id.get(bad["event_id"], set()) | reasons_by_payload.get(
            by_seq[bad["seq"]].payload.decode("utf-8", "replace"), set()
        )
        assert found & expected, f"{bad['class']} event {bad['event_id']} quarantined as {found or 'nothing'}"

    # Revenue per store-day: producer truth = silver = gold.
    expected_revenue = truth_revenue(events)
    assert silver_revenue(spark, e2e) == expected_revenue
    assert gold_revenue(e2e, gold_schema) == expected_revenue

    # An alert was open before a stockout that really happened after the first pass.
    later_stockouts = {(s.store_id, s.sku) for s in truth.stockouts if s.empty_since_ms >= split_ms}
    assert later_stockouts, "the simulation engineered no stockout after the first pass"
    assert open_after_first_pass & later_stockouts, (
        f"no store-SKU that ran out after day {SPLIT_DAY} had an alert open before it: "
        f"stockouts {sorted(later_stockouts)}, alerts {sorted(open_after_first_pass)}"
    )

    # Seed 21 puts SKU-00059 on an announced promotion that outruns its stock and what is on order
    # (S001 and S003 run out on days 12 and 13): its stockout_risk alert, with its probability,
    # was open at the first pass, before the shelf went empty.
    promoted_out = {
        (s.store_id, s.sku)
        for s in truth.stockouts
        if s.empty_since_ms >= split_ms and s.cause == "promotion"
    }
    warned = {key: p for key, p in risk_after_first_pass.items() if key in promoted_out}
    assert warned and min(warned.values()) >= e2e.gold.alert_min_probability, (
        f"promotion stockouts after day {SPLIT_DAY}: {sorted(promoted_out)}; "
        f"stockout_risk alerts open before them: {risk_after_first_pass}"
    )

    # The alerts reached SQS through SNS.
    messages = latest_alerts(e2e, limit=50)
    assert messages, "no alert arrived on the SQS queue"
