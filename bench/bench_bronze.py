"""Drain rate from LocalStack Kinesis to bronze on S3, for a backlog of aggregated POS events.

The backlog (the first events of a seeded simulation, aggregated and compressed by the
producer's own Kinesis sink) is loaded first, then one drain pass runs in a child process (its
start-up included) so its peak resident memory is its own. LocalStack's Kinesis answers at a
rate that varies from pass to pass on a busy machine, so BENCH_BRONZE_REPEAT passes (3) run on
fresh streams and the median is the figure.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
import time
import uuid

from bench import figure, services
from ingestion.checkpoints import CheckpointStore
from lakehouse.aws import client
from lakehouse.config import REPO_ROOT, Settings
from lakehouse.resources import ensure_bucket, ensure_stream
from producer import KinesisSink, SimulationConfig, simulate

EVENTS = int(os.environ.get("BENCH_BRONZE_EVENTS", "100000"))
REPEAT = int(os.environ.get("BENCH_BRONZE_REPEAT", "3"))

DRAIN_SCRIPT = """
import json, sys
from ingestion.drain import drain
from lakehouse.config import load_settings
summary = drain(load_settings(), stream=sys.argv[1], bucket=sys.argv[2])
print(json.dumps(summary.as_dict()))
"""


def load_backlog(settings: Settings, stream: str) -> tuple[int, int]:
    """Send the first EVENTS events of a seeded simulation through the producer's own sink."""
    events = itertools.islice(simulate(SimulationConfig(seed=11, days=365)), EVENTS)
    delivery = KinesisSink(settings, stream).send(events)
    if delivery.events_failed:
        raise RuntimeError(f"{delivery.events_failed} events failed while loading the backlog")
    return delivery.events_in, delivery.records_sent


def drain_once(settings: Settings) -> dict:
    """Load a backlog into a fresh stream, drain it in a child process; figures of that pass."""
    name = f"bench-bronze-{uuid.uuid4().hex[:8]}"
    ensure_stream(settings, name, shards=2)
    ensure_bucket(settings, name)
    try:
        event_count, record_count = load_backlog(settings, name)
        began = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", DRAIN_SCRIPT, name, name],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.monotonic() - began
        summary = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        client("kinesis", settings).delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        with CheckpointStore(settings, name) as store:
            store.reset()
    if summary["events"] != event_count:
        raise RuntimeError(f"drained {summary['events']} events, sent {event_count}")
    return {
        "events": event_count,
        "records": record_count,
        "seconds": seconds,
        "bytes": summary["bytes_written"],
    }


def run(settings: Settings) -> list[dict]:
    with services(settings, "localstack", "postgres"):
        passes = sorted((drain_once(settings) for _ in range(REPEAT)), key=lambda item: item["seconds"])
    median, best = passes[len(passes) // 2], passes[0]
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return [
        figure(f"drain {median['events']:,} events, median of {REPEAT} passes", median["seconds"], "s"),
        figure(
            "drain rate, events (median pass)", median["events"] / median["seconds"], "events/s", ">= 20000"
        ),
        figure("drain rate, events (best pass)", best["events"] / best["seconds"], "events/s"),
        figure(
            "drain rate, Kinesis records (median pass)", median["records"] / median["seconds"], "records/s"
        ),
        figure("bronze bytes per event (gzip)", median["bytes"] / median["events"], "B"),
        figure("drain process peak memory", peak_mib, "MiB"),
    ]
