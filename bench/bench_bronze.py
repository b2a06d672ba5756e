"""Drain rate from LocalStack Kinesis to bronze on S3, for a backlog of aggregated POS events.

The backlog (the first events of a seeded simulation, aggregated and compressed by the
producer's own Kinesis sink) is loaded first, then one drain pass runs
in a child process so its peak resident memory is its own.
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

from bench import figure
from ingestion.checkpoints import CheckpointStore
from lakehouse.aws import client
from lakehouse.config import REPO_ROOT, Settings
from lakehouse.resources import ensure_bucket, ensure_stream
from producer import KinesisSink, SimulationConfig, simulate

EVENTS = int(os.environ.get("BENCH_BRONZE_EVENTS", "100000"))

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


def run(settings: Settings) -> list[dict]:
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
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        client("kinesis", settings).delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        with CheckpointStore(settings, name) as store:
            store.reset()
    if summary["events"] != event_count:
        raise RuntimeError(f"drained {summary['events']} events, sent {event_count}")
    return [
        figure(f"drain {event_count:,} events ({record_count:,} records)", seconds, "s"),
        figure("drain rate, events", event_count / seconds, "events/s", ">= 20000"),
        figure("drain rate, Kinesis records", record_count / seconds, "records/s"),
        figure("bronze bytes per event (gzip)", summary["bytes_written"] / event_count, "B"),
        figure("drain process peak memory", peak_mib, "MiB"),
    ]
