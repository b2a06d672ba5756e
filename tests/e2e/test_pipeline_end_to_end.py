"""Producer -> Kinesis -> bronze -> silver -> gold -> alerts on SNS/SQS, all real, through Mage.

The simulation is sent in two parts with a full pipeline pass after each, the way the
every-minute schedules see it: the alerts open after the first pass are then judged against
the stockouts the ground truth records after it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingestion.bronze_format import raw_payload
from ingestion.checkpoints import CheckpointStore
from ingestion.drain import bronze_lines
from lakehouse.config import Settings
from lakehouse.db import connect
from ops.mage import run_pipeline
from producer import KinesisSink, Simulation, SimulationConfig
from spark_jobs.gold.alerts import latest_alerts
from spark_jobs.gold.migrate import migrate
from spark_jobs.session import s3a_uri
from spark_jobs.silver.tables import QUARANTINE, table_path

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
SILVER_EVENT_TABLES = (
    "sales_lines",
    "deliveries",
    "stock_counts",
    "stores",
    "products",
    "purchase_orders",
    "promotions",
)


@pytest.fixture(scope="module")
def e2e(own_lake, postgres: Settings):
    """Settings with names of their own: stream, buckets, topic, queue and gold schema."""
    name = f"e2e{uuid.uuid4().hex[:8]}"
    settings = own_lake(name)
    previous_schema = os.environ.get("GOLD_SCHEMA")
    os.environ["GOLD_SCHEMA"] = f"gold_{name}"  # Mage's blocks inherit it through run_pipeline
    migrate(settings, f"gold_{name}", log=lambda message: None)  # as the owner: the pipeline only checks
    yield settings
    if previous_schema is None:
        os.environ.pop("GOLD_SCHEMA", None)
    else:
        os.environ["GOLD_SCHEMA"] = previous_schema
    with CheckpointStore(settings, name) as store:
        store.reset()
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(f'drop schema if exists "gold_{name}" cascade')


def run_all_stages(settings: Settings) -> None:
    for pipeline in ("kinesis_to_bronze", "bronze_to_silver", "silver_to_gold"):
        run = run_pipeline(pipeline, settings=settings)
        assert run.succeeded, f"{pipeline} failed:\n{run.output[-4000:]}"


def line_revenue(line: dict) -> Decimal:
    return line["quantity"] * Decimal(line["unit_price"]) - Decimal(line["discount"])


def truth_revenue(events) -> dict[tuple[str, str], Decimal]:
    """Revenue per store and day of every valid sale the producer sent (late ones included)."""
    revenue: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for event in events:
        if event.event_type != "sale" or event.bad_class not in (None, "late_event"):
            continue
        document = json.loads(event.payload)
        day = document["event_time"][:10]
        for line in document["lines"]:
            revenue[(document["store_id"], day)] += line_revenue(line)
    return dict(revenue)


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

    # Produced = bronze.
    lines = bronze_lines(e2e)
    assert len(lines) == len(events)
    assert Counter(raw_payload(line) for line in lines) == Counter(event.payload for event in events)

    # Bronze = silver + quarantine.
    silver_root = s3a_uri(e2e.silver_bucket)
    read = spark.read.format("delta")
    accepted = sum(
        read.load(table_path(silver_root, table)).select("event_id").distinct().count()
        for table in SILVER_EVENT_TABLES
    )
    quarantine = read.load(table_path(silver_root, QUARANTINE))
    assert accepted + quarantine.count() == len(lines)

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
    silver_revenue = {
        (row["store_id"], str(row["day"])): row["revenue"]
        for row in read.load(table_path(silver_root, "sales_lines"))
        .selectExpr("store_id", "to_date(event_time) as day", "quantity * unit_price - discount as revenue")
        .groupBy("store_id", "day")
        .agg({"revenue": "sum"})
        .withColumnRenamed("sum(revenue)", "revenue")
        .collect()
    }
    with connect(e2e) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"select store_id, to_char(to_date(date_key::text, 'YYYYMMDD'), 'YYYY-MM-DD'), revenue "
            f'from "{gold_schema}".agg_sales_store_daily'
        )
        gold_revenue = {(store, day): revenue for store, day, revenue in cursor.fetchall()}
    assert silver_revenue == expected_revenue
    assert gold_revenue == expected_revenue

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
