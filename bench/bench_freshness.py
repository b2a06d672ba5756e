"""End-to-end freshness during a live demo, and the peak memory of the whole stack meanwhile.

On a private stack (bench/private_stack.py) whose Mage schedules run kinesis_to_bronze,
bronze_to_silver and silver_to_gold every minute, exactly as `make demo` does: a short
backfill gives the stock model history, then the stores sell live for BENCH_FRESHNESS_SECONDS.
With BENCH_FRESHNESS_PATH=live (the default) the `pos_live` streaming pipeline (`mage run`, as
`make live` does) starts after the backfill, and the live phase begins once it has made its
first pass, as in a deployment where the loop is always running; it owns silver and gold, so
the schedules' runs of those skip. With `schedules`, only the every-minute runs carry events.

- gold freshness, per live sale line: `fact_sales.loaded_at` (the load's transaction time)
  minus the sale's event time;
- alert freshness, per alert opened or escalated during the live phase: when SQS received it
  (SentTimestamp) minus the event time of the newest sale of its store-SKU that the alert's
  load had seen, the sale that tipped it (alerts whose newest sale predates the live phase are
  left out: time or a count tipped them);
- memory: every component with all its descendants (Mage's Spark JVMs too), sampled every
  two seconds from the start of the backfill to the end; the peak of the sum is reported.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, date, datetime, timedelta

from bench import figure
from bench.live_stack import CATCH_UP_SECONDS, live_stack
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.db import connect
from ops.demo import send, wait_for_gold
from producer.simulation import LIVE, SimulationConfig

PATH = os.environ.get("BENCH_FRESHNESS_PATH", "live")
LIVE_SECONDS = float(os.environ.get("BENCH_FRESHNESS_SECONDS", "180"))
RATE = float(os.environ.get("BENCH_FRESHNESS_RATE", "5"))
BACKFILL_DAYS = int(os.environ.get("BENCH_FRESHNESS_BACKFILL_DAYS", "14"))


def gold_freshness(settings: Settings, since: datetime) -> tuple[int, float, float]:
    """(sale lines, p50 s, p95 s) from event time to gold for sales with event time after `since`."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select count(*), percentile_cont(array[0.5, 0.95]) within group "
            "(order by extract(epoch from loaded_at - sold_at)) "
            f'from "{settings.gold.schema}".fact_sales where sold_at >= %s',
            (since,),
        )
        count, (p50, p95) = cursor.fetchone()
    return count, p50, p95


def alert_messages(settings: Settings) -> list[tuple[dict, datetime]]:
    """Every message on the alerts queue with the time SQS received it (consumed: a private stack)."""
    sqs = client("sqs", settings)
    queue_url = sqs.get_queue_url(QueueName=settings.alerts_queue)["QueueUrl"]
    found = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["SentTimestamp"]
        ).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            sent = datetime.fromtimestamp(int(message["Attributes"]["SentTimestamp"]) / 1000, UTC)
            found.append((json.loads(message["Body"]), sent))
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)],
        )


def alert_latencies(settings: Settings, since: datetime) -> list[float]:
    """Seconds from the tipping sale to SQS for each alert raised at data time `since` or later."""
    latencies = []
    with connect(settings) as connection, connection.cursor() as cursor:
        for body, sent in alert_messages(settings):
            seen = body["escalated_at"] if body["event"] == "escalated" else body["first_seen_at"]
            seen = datetime.fromisoformat(seen)
            if seen < since:
                continue
            cursor.execute(
                f'select max(sold_at) from "{settings.gold.schema}".fact_sales '
                "where store_id = %s and sku = %s and sold_at <= %s",
                (body["store_id"], body["sku"], seen),
            )
            (tipping_sale,) = cursor.fetchone()
            # An alert on a store-SKU with no live sale was tipped by time or a count, not a sale.
            if tipping_sale is not None and tipping_sale >= since:
                latencies.append((sent - tipping_sale).total_seconds())
    return sorted(latencies)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted values; NaN when there are none."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(share * len(values)) - 1))]


def run(settings: Settings) -> list[dict]:
    first_day = date.today() - timedelta(days=BACKFILL_DAYS + 1)
    backfill = SimulationConfig(seed=11, stores=4, products=100, days=BACKFILL_DAYS, start_date=first_day)
    with live_stack(settings, backfill, with_pos_live=PATH == "live") as live:
        private = live.settings
        live_began = datetime.now(UTC)
        stream = dataclasses.replace(backfill, mode=LIVE, rate=RATE, duration_seconds=LIVE_SECONDS)
        _, newest = send(private, stream, "live")
        if not wait_for_gold(private, newest, CATCH_UP_SECONDS):
            raise RuntimeError("gold did not catch up with the live phase; see the private Mage's runs")
        live.stop()
        lines, p50, p95 = gold_freshness(private, live_began)
        alerts = alert_latencies(private, live_began)
        sampler = live.sampler
    figures = [
        figure(f"live sale lines measured ({PATH} path)", lines, "lines"),
        figure("event to gold, p50", p50, "s"),
        figure("event to gold, p95", p95, "s", "<= 30"),
        figure("alerts raised during the live phase", len(alerts), "alerts"),
        figure("event to alert on SQS, p50", percentile(alerts, 0.5), "s"),
        figure("event to alert on SQS, p95", percentile(alerts, 0.95), "s", "<= 30"),
    ]
    for name, size in sampler.peak_by_component.items():
        figures.append(figure(f"{name} peak resident memory", size / 2**20, "MiB"))
    figures.append(figure("stack peak resident memory", sampler.peak_total / 2**20, "MiB", "<= 4096"))
    return figures
