"""Soak: the producer at a high rate for minutes with the schedules and pos_live running.

On a private stack (bench/private_stack.py) with Mage's every-minute schedules and the
`pos_live` pipeline, after a short backfill, the stores sell live at BENCH_SOAK_RATE baskets/s
(50 by default, well above a demo's 5) for BENCH_SOAK_SECONDS (600). Then:

- nothing lost or doubled: bronze holds each event sent exactly once (counted by event id), and
  gold's fact_sales holds each sale line of bronze exactly once;
- lag back to normal: seconds from the last event sent until gold's newest event reaches it;
- memory flat: the stack's resident memory (every component and pos_live with all their
  descendants) in the first and the last minute of the soak, and the growth between them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import Counter
from datetime import date, timedelta

from bench import figure
from bench.live_stack import CATCH_UP_SECONDS, live_stack
from ingestion.bronze_format import raw_payload
from ingestion.drain import bronze_lines
from lakehouse.config import Settings
from lakehouse.db import connect
from ops.demo import send, wait_for_gold
from producer.simulation import LIVE, SimulationConfig

SOAK_SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "600"))
RATE = float(os.environ.get("BENCH_SOAK_RATE", "50"))
BACKFILL_DAYS = 7


def bronze_census(settings: Settings) -> tuple[Counter, int]:
    """(copies per event id in bronze, sale lines in bronze)."""
    copies: Counter = Counter()
    sale_lines = 0
    for line in bronze_lines(settings):
        document = json.loads(raw_payload(line))
        copies[document.get("event_id")] += 1
        if document.get("event_type") == "sale":
            sale_lines += len(document.get("lines") or [])
    return copies, sale_lines


def gold_sale_lines(settings: Settings) -> tuple[int, int]:
    """(sale lines in fact_sales, distinct ones)."""
    with connect(settings) as connection, connection.cursor() as cursor:
        table = f'"{settings.gold.schema}".fact_sales'
        cursor.execute(f"select count(*), count(distinct (event_id, line_number)) from {table}")
        return cursor.fetchone()


def minute_mean(samples: list[tuple[float, int]], first: bool) -> float:
    """Mean resident bytes over the first (or last) 60 s of the samples."""
    if not samples:
        return float("nan")
    edge = samples[0][0] + 60 if first else samples[-1][0] - 60
    chosen = [size for when, size in samples if (when <= edge if first else when >= edge)]
    return sum(chosen) / len(chosen)


def run(settings: Settings) -> list[dict]:
    first_day = date.today() - timedelta(days=BACKFILL_DAYS + 1)
    backfill = SimulationConfig(seed=17, stores=4, products=100, days=BACKFILL_DAYS, start_date=first_day)
    with live_stack(settings, backfill) as live:
        private = live.settings
        soak = dataclasses.replace(backfill, mode=LIVE, rate=RATE, duration_seconds=SOAK_SECONDS)
        live.sampler.record_from_now()
        began = time.monotonic()
        soak_sent, newest = send(private, soak, "soak")
        sent_seconds = time.monotonic() - began
        samples = live.sampler.recorded()
        caught_up = wait_for_gold(private, newest, CATCH_UP_SECONDS)
        lag = time.monotonic() - began - sent_seconds if caught_up else float("nan")
        live.stop()
        copies, bronze_sale_lines = bronze_census(private)
        gold_lines, gold_distinct = gold_sale_lines(private)
        backfill_sent, peak = live.backfill_sent, live.sampler.peak_total
    sent = backfill_sent + soak_sent
    missing_or_doubled = abs(sum(copies.values()) - sent) + sum(n - 1 for n in copies.values() if n > 1)
    first_minute, last_minute = minute_mean(samples, first=True), minute_mean(samples, first=False)
    growth = (last_minute - first_minute) / first_minute * 100
    return [
        figure("soak events sent", soak_sent, "events"),
        figure("soak rate achieved", soak_sent / sent_seconds, "events/s"),
        figure("bronze events missing or doubled", missing_or_doubled, "events", "<= 0"),
        figure("gold sale lines missing", bronze_sale_lines - gold_distinct, "lines", "<= 0"),
        figure("gold sale lines doubled", gold_lines - gold_distinct, "lines", "<= 0"),
        figure("gold caught up after the last event", lag, "s", "<= 300"),
        figure("stack memory, first minute of the soak", first_minute / 2**20, "MiB"),
        figure("stack memory, last minute of the soak", last_minute / 2**20, "MiB"),
        figure("stack memory growth over the soak", growth, "%", "<= 10"),
        figure("stack peak resident memory", peak / 2**20, "MiB"),
    ]
