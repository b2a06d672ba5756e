"""Producer throughput: event generation alone, then sustained delivery to LocalStack Kinesis.

Generation runs the default chain (20 stores, 500 SKUs) in backfill with no I/O on one
core, payload encoding included. Delivery streams a year-long backfill into a fresh stream
(KINESIS_SHARDS shards) through the aggregating sink for BENCH_PRODUCER_SECONDS (default 60),
then stops intake and flushes; rates are over the whole run, flush included.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid

from bench import figure
from lakehouse import aws
from lakehouse.config import Settings
from lakehouse.resources import ensure_stream
from producer.kinesis import KinesisSink
from producer.simulation import Simulation, SimulationConfig

SECONDS = float(os.environ.get("BENCH_PRODUCER_SECONDS", "60"))
GENERATION_DAYS = float(os.environ.get("BENCH_PRODUCER_GENERATION_DAYS", "7"))


def generation() -> list[dict]:
    simulation = Simulation(SimulationConfig(seed=1, days=GENERATION_DAYS))
    events = lines = 0
    began = time.perf_counter()
    for event in simulation:
        events += 1
        lines += event.sale_lines
    elapsed = time.perf_counter() - began
    return [
        figure("generation sale lines/s (no I/O, 1 core)", lines / elapsed, "lines/s", ">= 20000"),
        figure("generation events/s (no I/O, 1 core)", events / elapsed, "events/s"),
    ]


def delivery(settings: Settings) -> list[dict]:
    kinesis = aws.client("kinesis", settings)
    stream = f"bench-producer-{uuid.uuid4().hex[:8]}"
    ensure_stream(settings, stream)
    try:
        sink = KinesisSink(settings, stream, client=kinesis)
        timer = threading.Timer(SECONDS, sink.stop)
        timer.start()
        try:
            summary = sink.send(Simulation(SimulationConfig(seed=2, days=365)))
        finally:
            timer.cancel()
    finally:
        kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
    elapsed = summary.elapsed_seconds
    return [
        figure("kinesis sale lines/s (aggregated)", summary.sale_lines_sent / elapsed, "lines/s", ">= 5000"),
        figure("kinesis events/s (aggregated)", summary.events_per_second, "events/s"),
        figure("kinesis records/s (aggregated)", summary.records_per_second, "records/s"),
        figure("kinesis bytes/s on the wire (zlib)", summary.bytes_sent / elapsed / 1e6, "MB/s"),
        figure("kinesis delivery duration", elapsed, "s"),
        figure("kinesis records retried", summary.records_retried, "records"),
        figure("kinesis events failed", summary.events_failed, "events", "<= 0"),
    ]


def run(settings: Settings) -> list[dict]:
    figures = generation()
    try:
        figures += delivery(settings)
    except Exception as error:  # keep the generation figures; say why delivery has none
        print(f"bench_producer: Kinesis delivery not measured: {error}", file=sys.stderr)
    return figures
