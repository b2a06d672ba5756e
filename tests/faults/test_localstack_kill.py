"""kill -9 of LocalStack while the stream is being drained, then LocalStack started again as `make up` does.

LocalStack's free edition keeps Kinesis in memory (PERSISTENCE=0; snapshots are a paid
feature): the kill takes the stream and every record not yet drained with it. The lake is not
in LocalStack but on the disk-backed S3 server beside it, so what the drain wrote stays. The
test starts a private LocalStack (a spare port, a run folder under tmp_path, the stack's own
start code) so the shared stack's is never touched; the S3 server and PostgreSQL (checkpoints)
are the shared ones, with names of the test's own.

A drainer process loops over the stream as the streaming pipeline does, while the test sends
events in acknowledged batches; once bronze holds a few objects, LocalStack's whole process
group (the runtime and kinesis-mock) gets SIGKILL. Then LocalStack is started again and the
resources created as `make up` creates them, which makes a new stream of the same name. What
must hold:

- every bronze object written before the kill is still there, byte for byte;
- bronze holds only events that were sent, none twice;
- `make status`'s Kinesis probe and the drain refuse the new stream (the checkpoints belong to
  the old one), naming the reset command, and write nothing;
- after the documented recovery (`python -m ingestion.checkpoints reset <stream>`) a drain takes
  the new stream's events into bronze, each exactly once, beside the old objects.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from ingestion.bronze_format import decode_object, raw_payload, stream_prefix
from ingestion.checkpoints import CheckpointStore
from ingestion.drain import IngestionError, drain
from lakehouse.aws import client
from lakehouse.config import REPO_ROOT, Settings, load_settings
from lakehouse.resources import ensure_resources
from ops.stack import process
from ops.stack.cli import start_native
from ops.stack.components import LocalStack, settings_environment
from ops.stack.lag import kinesis_backlog
from producer import KinesisSink, Simulation, SimulationConfig

pytestmark = pytest.mark.faults

# About 1,100 events, sent in batches of 40 while the drainer runs.
CONFIG = SimulationConfig(seed=161, stores=2, products=20, days=4, traffic_scale=0.3)
BATCH = 40
OBJECTS_BEFORE_KILL = 3

# The streaming drain's loop (mage_project/data_loaders/kinesis_bronze_source.py), in small
# objects so that bronze fills while the test sends; it stops at the first error.
_DRAINER = """
import sys, time
from ingestion.drain import drain
from lakehouse.config import load_settings
settings = load_settings()
while True:
    summary = drain(settings, max_events_per_object=int(sys.argv[1]))
    if summary.events:
        print(f"drained {summary.events} events into {summary.objects} objects", flush=True)
    else:
        time.sleep(0.2)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_localstack(localstack: Settings, postgres: Settings, unique_name: str, tmp_path: Path):
    """Settings whose Kinesis, SNS, SQS and IAM are a private LocalStack's, with names of the test's own.

    Its resources are created as `make up` creates them when Terraform is not used (the boto3
    bootstrap); S3 and PostgreSQL stay the shared ones.
    """
    port = _free_port()
    names = {
        "STACK_RUN_DIR": str(tmp_path / "run"),
        "LOCALSTACK_PORT": str(port),
        "AWS_ENDPOINT_URL": f"http://{localstack.localstack_host}:{port}",
        "KINESIS_STREAM": unique_name,
        "BRONZE_BUCKET": f"{unique_name}-bronze",
        "SILVER_BUCKET": f"{unique_name}-silver",
        "ALERTS_TOPIC": f"{unique_name}-alerts",
        "ALERTS_QUEUE": f"{unique_name}-alerts-inbox",
        "EXPORTS_BUCKET": f"{unique_name}-exports",
        "CSV_LANDING_QUEUE": f"{unique_name}-landing",
    }
    private = load_settings(environ={**os.environ, **names})
    start_native(private, ["localstack"], log=lambda message: None)
    ensure_resources(private)
    try:
        yield private
    finally:
        LocalStack(private).stop()
        with CheckpointStore(private, private.kinesis_stream) as store:
            store.reset()


def _bronze_objects(settings: Settings) -> dict[str, str]:
    """Every bronze object of the stream: key -> SHA-256 of its bytes."""
    s3 = client("s3", settings)
    objects = {}
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.bronze_bucket, Prefix=stream_prefix(settings.kinesis_stream)
    )
    for page in pages:
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=settings.bronze_bucket, Key=item["Key"])["Body"].read()
            objects[item["Key"]] = hashlib.sha256(body).hexdigest()
    return objects


def _bronze_payloads(settings: Settings, keys: list[str] | None = None) -> Counter:
    """Bronze's payloads as a multiset (of the given objects, or all of the stream's)."""
    s3 = client("s3", settings)
    payloads: Counter = Counter()
    for key in keys if keys is not None else _bronze_objects(settings):
        body = s3.get_object(Bucket=settings.bronze_bucket, Key=key)["Body"].read()
        payloads.update(raw_payload(line) for line in decode_object(body))
    return payloads


def _kill_9_group(component: LocalStack) -> None:
    """SIGKILL to LocalStack's whole process group (the runtime and kinesis-mock), as `docker kill` does.

    The runtime is this process's child (start_native spawned it), so it is reaped here; the
    group counts as gone when nothing in it is left but zombies.
    """
    record = process.read_pid(component.pid_file)
    assert record is not None, "the private LocalStack is not running"
    assert os.getpgid(record.pid) == record.pid, "LocalStack does not lead its process group"
    os.killpg(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(record.pid, os.WNOHANG)
        living = [
            member
            for member in psutil.process_iter(["status"])
            if member.info["status"] != psutil.STATUS_ZOMBIE and _in_group(member.pid, record.pid)
        ]
        if not living:
            return
        time.sleep(0.2)
    pytest.fail(f"LocalStack's processes still run 30 s after SIGKILL: {living}")


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except ProcessLookupError:
        return False


def _send_until_bronze_fills(settings: Settings, drainer: subprocess.Popen, events: list) -> list:
    """Acknowledged batches until bronze holds OBJECTS_BEFORE_KILL objects, then one more; the events sent."""
    sink = KinesisSink(settings)
    sent: list = []
    for start in range(0, len(events), BATCH):
        batch = events[start : start + BATCH]
        assert sink.send(batch).events_failed == 0
        sent += batch
        if len(_bronze_objects(settings)) >= OBJECTS_BEFORE_KILL:
            # One batch more, acknowledged by Kinesis and very likely not drained yet.
            extra = events[start + BATCH : start + 2 * BATCH]
            assert extra, "the simulation ran out of events before bronze filled"
            assert sink.send(extra).events_failed == 0
            return sent + extra
        assert drainer.poll() is None, "the drainer stopped before LocalStack was killed"
        time.sleep(0.3)
    pytest.fail(f"bronze held fewer than {OBJECTS_BEFORE_KILL} objects after every event was sent")


def _reset_checkpoints(settings: Settings) -> str:
    """The documented recovery, run as a person runs it; its output."""
    stream = settings.kinesis_stream
    reset = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "ingestion.checkpoints", "reset", stream],
        cwd=REPO_ROOT,
        env={**os.environ, **settings_environment(settings)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reset.returncode == 0, reset.stderr
    return reset.stdout


def test_bronze_survives_a_kill_9_of_localstack_mid_drain_and_the_new_stream_is_refused_until_reset(
    private_localstack: Settings, tmp_path: Path
):
    lake = private_localstack
    events = list(Simulation(CONFIG))
    errors = tmp_path / "drainer.stderr"
    drainer = subprocess.Popen(
        [sys.executable, "-c", _DRAINER, "20"],
        cwd=REPO_ROOT,
        env={**os.environ, **settings_environment(lake)},
        stdout=subprocess.PIPE,
        stderr=errors.open("w"),
        text=True,
    )
    try:
        sent = _send_until_bronze_fills(lake, drainer, events)
        _kill_9_group(LocalStack(lake))
        assert drainer.wait(300) != 0, "the drainer kept going although LocalStack was killed"
    finally:
        if drainer.poll() is None:
            drainer.kill()
            drainer.wait()
    drained = drainer.stdout.read()
    assert "drained" in drained, f"the drainer wrote nothing before the kill:\n{errors.read_text()[-3000:]}"

    acknowledged = _bronze_objects(lake)  # S3 acknowledged each of these before the kill
    assert len(acknowledged) >= OBJECTS_BEFORE_KILL
    before = _bronze_payloads(lake, list(acknowledged))
    sent_payloads = Counter(event.payload for event in sent)
    assert max(before.values()) == 1, "an event is in bronze twice"
    assert not before - sent_payloads, "bronze holds events that were never sent"

    started = start_native(lake, ["localstack"], log=lambda message: None)  # what `make up` does
    assert [component.name for component in started] == ["localstack"]
    ensure_resources(lake)  # ... and then the resources: a new, empty stream of the same name

    said = kinesis_backlog(lake)  # what `make status` prints for the stream
    assert said.startswith("STREAM RECREATED"), said
    with pytest.raises(IngestionError) as refused:
        drain(lake)
    for phrase in ("was recreated", f"python -m ingestion.checkpoints reset {lake.kinesis_stream}"):
        assert phrase in str(refused.value), str(refused.value)
    assert _bronze_objects(lake) == acknowledged, "the refused drain changed bronze"

    assert "forgot the checkpoints" in _reset_checkpoints(lake)
    after_reset = list(Simulation(SimulationConfig(seed=162, stores=1, products=10, days=1)))
    assert KinesisSink(lake).send(after_reset).events_failed == 0
    assert drain(lake).events == len(after_reset)

    bronze = _bronze_objects(lake)
    kept = {key: bronze.get(key) for key in acknowledged}
    assert kept == acknowledged, "an object from before the kill changed or went"
    new_payloads = _bronze_payloads(lake, [key for key in bronze if key not in acknowledged])
    assert new_payloads == Counter(event.payload for event in after_reset)
    assert not before & new_payloads, "an event from before the kill was written again"
    lost = sum((sent_payloads - before).values())
    print(f"sent {len(sent)} events before the kill: {sum(before.values())} in bronze, {lost} lost undrained")
