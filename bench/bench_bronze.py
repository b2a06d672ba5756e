"""Drain rate from LocalStack Kinesis to bronze on S3, for a backlog of aggregated POS events.

The backlog is loaded first (aggregated, as the producer sends it), then one drain pass runs
in a child process so its peak resident memory is its own.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import uuid

from ingestion.checkpoints import CheckpointStore
from lakehouse.aws import client
from lakehouse.config import REPO_ROOT, Settings
from lakehouse.resources import ensure_bucket, ensure_stream
from producer.aggregation import pack_record

EVENTS = int(os.environ.get("BENCH_BRONZE_EVENTS", "100000"))
EVENTS_PER_RECORD = int(os.environ.get("BENCH_BRONZE_EVENTS_PER_RECORD", "100"))

DRAIN_SCRIPT = """
import json, sys
from ingestion.drain import drain
from lakehouse.config import load_settings
summary = drain(load_settings(), stream=sys.argv[1], bucket=sys.argv[2])
print(json.dumps(summary.as_dict()))
"""


def sale_payload(number: int) -> bytes:
    """A sale event of realistic size (three lines, ~450 bytes)."""
    store = f"S{number % 20:03d}"
    event = {
        "event_id": str(uuid.UUID(int=number)),
        "event_type": "sale",
        "schema_version": 1,
        "event_time": "2026-11-22T10:15:00.000Z",
        "store_id": store,
        "basket_id": f"B{number:010d}",
        "payment_method": "card",
        "loyalty_id": None,
        "lines": [
            {
                "line_number": line,
                "sku": f"SKU-{(number + line) % 500:05d}",
                "quantity": 1 + line,
                "unit_price": "3.49",
                "discount": "0.00",
            }
            for line in range(1, 4)
        ],
    }
    return json.dumps(event, separators=(",", ":")).encode()


def load_backlog(settings: Settings, stream: str) -> int:
    """Put EVENTS events as aggregated records; returns the number of Kinesis records."""
    kinesis = client("kinesis", settings)
    records = []
    for start in range(0, EVENTS, EVENTS_PER_RECORD):
        payloads = [sale_payload(n) for n in range(start, min(start + EVENTS_PER_RECORD, EVENTS))]
        records.append({"Data": pack_record(payloads), "PartitionKey": f"S{start % 20:03d}"})
    for start in range(0, len(records), 100):  # 100 records of ~45 kB stay under 5 MB a call
        response = kinesis.put_records(StreamName=stream, Records=records[start : start + 100])
        if response["FailedRecordCount"]:
            raise RuntimeError(f"{response['FailedRecordCount']} records failed while loading the backlog")
    return len(records)


def run(settings: Settings) -> list[dict]:
    name = f"bench-bronze-{uuid.uuid4().hex[:8]}"
    ensure_stream(settings, name, shards=2)
    ensure_bucket(settings, name)
    try:
        record_count = load_backlog(settings, name)
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
    if summary["events"] != EVENTS:
        raise RuntimeError(f"drained {summary['events']} events, expected {EVENTS}")
    return [
        {
            "name": f"drain {EVENTS:,} events ({record_count:,} records)",
            "value": seconds,
            "unit": "s",
            "target": None,
        },
        {"name": "drain rate, events", "value": EVENTS / seconds, "unit": "events/s", "target": ">= 20000"},
        {
            "name": "drain rate, Kinesis records",
            "value": record_count / seconds,
            "unit": "records/s",
            "target": None,
        },
        {
            "name": "bronze bytes per event (gzip)",
            "value": summary["bytes_written"] / EVENTS,
            "unit": "B",
            "target": None,
        },
        {"name": "drain process peak memory", "value": peak_mib, "unit": "MiB", "target": None},
    ]
