"""KinesisSink logic against a scripted stand-in for the boto3 client.

The stand-in only answers PutRecords the way Kinesis documents it (per-record ErrorCode in a
200 response, or a ClientError for the whole call), so batching, retry, backoff and failure
accounting can be checked exactly; the integration test does the same against LocalStack.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from lakehouse.config import load_settings
from lakehouse.contracts.envelope import deaggregate
from producer.events import Event
from producer.kinesis import DeliveryError, KinesisSink
from producer.records import MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL

pytestmark = pytest.mark.unit


def _events(count: int, stores: int = 3, pad: int = 50) -> list[Event]:
    return [
        Event(
            n,
            f"id-{n}",
            "sale",
            f"S{n % stores:03d}",
            n,
            json.dumps({"event_id": f"id-{n}", "pad": "x" * pad}).encode(),
            1,
        )
        for n in range(count)
    ]


class ScriptedKinesis:
    """Stores records like Kinesis; `fail(call, records)` decides per call which ones fail."""

    def __init__(self, fail=None, error=None) -> None:
        self.fail = fail or (lambda call, records: set())
        self.error = error or (lambda call: None)
        self.calls: list[list[dict]] = []
        self.stored: list[dict] = []

    def put_records(self, StreamName: str, Records: list[dict]) -> dict:
        call = len(self.calls)
        self.calls.append(Records)
        error = self.error(call)
        if error is not None:
            raise error
        failing = self.fail(call, Records)
        results = []
        for index, record in enumerate(Records):
            if index in failing:
                results.append(
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
                )
            else:
                self.stored.append(record)
                results.append({"SequenceNumber": str(len(self.stored)), "ShardId": "shardId-000000000000"})
        return {"FailedRecordCount": len(failing), "Records": results}

    def event_ids(self) -> list[str]:
        return [json.loads(p)["event_id"] for record in self.stored for p in deaggregate(record["Data"])]


def _sink(client, **options) -> tuple[KinesisSink, list[float]]:
    sleeps: list[float] = []
    options.setdefault("backoff_base_seconds", 0.01)
    sink = KinesisSink(load_settings(), "test-stream", client=client, sleep=sleeps.append, **options)
    return sink, sleeps


def test_every_event_arrives_once_within_the_putrecords_limits():
    client = ScriptedKinesis()
    sink, sleeps = _sink(client, aggregate=False)
    events = _events(1234)
    summary = sink.send(iter(events))
    assert sorted(client.event_ids()) == sorted(e.event_id for e in events)
    assert summary.ok and summary.events_sent == summary.records_sent == 1234
    assert summary.sale_lines_sent == 1234 and sleeps == []
    for call in client.calls:
        assert len(call) <= MAX_RECORDS_PER_CALL
        assert sum(len(r["Data"]) + len(r["PartitionKey"]) for r in call) <= MAX_BYTES_PER_CALL
    assert {record["PartitionKey"] for record in client.stored} == {"S000", "S001", "S002"}


def test_aggregation_packs_events_per_store_in_order():
    client = ScriptedKinesis()
    sink, _ = _sink(client, max_record_bytes=4096)
    summary = sink.send(_events(600))
    assert summary.events_sent == 600 and summary.records_sent < 100
    for record in client.stored:
        ids = [json.loads(p)["event_id"] for p in deaggregate(record["Data"])]
        assert all(int(i[3:]) % 3 == int(record["PartitionKey"][1:]) for i in ids)
        assert ids == sorted(ids, key=lambda i: int(i[3:]))


def test_failed_records_are_retried_with_growing_jittered_backoff_until_stored():
    # Calls 0-2 fail every other record; later calls succeed.
    client = ScriptedKinesis(fail=lambda call, records: set(range(0, len(records), 2)) if call < 3 else set())
    sink, sleeps = _sink(client, aggregate=False, backoff_base_seconds=0.1, backoff_cap_seconds=0.3)
    summary = sink.send(_events(40))
    assert sorted(client.event_ids()) == sorted(f"id-{n}" for n in range(40))
    assert summary.ok and summary.records_failed == 0
    assert summary.records_retried == 20 + 10 + 5
    assert summary.throttled == 35
    assert len(sleeps) == 3 and all(0 <= s <= 0.3 for s in sleeps)


def test_records_that_keep_failing_are_counted_not_dropped():
    always = ScriptedKinesis(fail=lambda call, records: {0})
    sink, sleeps = _sink(always, aggregate=False, max_attempts=4)
    summary = sink.send(_events(5))
    assert not summary.ok
    assert summary.records_failed == 1 and summary.events_failed == 1
    assert summary.failed_event_ids == ["id-0"]
    assert summary.events_sent == 4 and len(sleeps) == 3
    assert summary.errors["failed:ProvisionedThroughputExceededException"] == 1


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "PutRecords")


def test_whole_call_throttling_and_connection_errors_are_retried():
    errors = {
        0: _client_error("ProvisionedThroughputExceededException"),
        1: EndpointConnectionError(endpoint_url="x"),
    }
    client = ScriptedKinesis(error=errors.get)
    sink, sleeps = _sink(client, aggregate=False)
    summary = sink.send(_events(10))
    assert summary.ok and summary.events_sent == 10
    assert len(sleeps) == 2 and summary.records_retried == 20


def test_an_error_retrying_cannot_fix_stops_delivery_with_the_summary():
    client = ScriptedKinesis(error=lambda call: _client_error("ResourceNotFoundException"))
    sink, _ = _sink(client, aggregate=False)
    with pytest.raises(DeliveryError, match="ResourceNotFoundException") as caught:
        sink.send(_events(10))
    assert caught.value.summary.records_failed == 10
    assert caught.value.summary.events_sent == 0


def test_a_record_over_the_kinesis_limit_is_failed_locally():
    client = ScriptedKinesis()
    sink, _ = _sink(client, aggregate=False)
    huge = Event(0, "huge", "sale", "S001", 0, b"{" + b"x" * (1024 * 1024) + b"}", 0)
    summary = sink.send([huge, *_events(3)])
    assert summary.failed_event_ids == ["huge"] and summary.errors["failed:RecordTooLarge"] == 1
    assert summary.events_sent == 3


def test_a_quiet_source_still_gets_its_events_sent_after_the_linger():
    client = ScriptedKinesis()
    sent = threading.Event()
    original = client.put_records

    def put_records(**kwargs):
        response = original(**kwargs)
        sent.set()
        return response

    client.put_records = put_records
    sink, _ = _sink(client, linger_seconds=0.05)

    def slow_source():
        yield from _events(3)
        # The source now waits; the events above must leave without it.
        assert sent.wait(5), "nothing was sent while the source was quiet"

    assert sink.send(slow_source()).events_sent == 3


def test_stop_ends_intake_and_flushes_what_was_taken():
    client = ScriptedKinesis()
    sink, _ = _sink(client)

    def endless():
        n = 0
        while True:
            yield from _events(1, pad=10)
            n += 1
            if n == 1000:
                sink.stop()
            time.sleep(0)

    summary = sink.send(endless())
    assert summary.stopped_early
    assert summary.events_sent == summary.events_in >= 1000
    assert len(client.event_ids()) == summary.events_sent


def test_a_failing_source_raises_after_what_it_gave_was_sent():
    client = ScriptedKinesis()
    sink, _ = _sink(client)

    def broken():
        yield from _events(7)
        raise RuntimeError("generator broke")

    with pytest.raises(RuntimeError, match="generator broke"):
        sink.send(broken())
    assert len(client.event_ids()) == 7
