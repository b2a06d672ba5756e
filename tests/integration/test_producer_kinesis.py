"""The producer against real LocalStack Kinesis: exactly what was sent comes back, retries included."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from lakehouse import aws
from lakehouse.config import Settings
from lakehouse.contracts.envelope import deaggregate
from lakehouse.resources import ensure_stream
from producer.events import Event
from producer.kinesis import KinesisSink
from producer.simulation import Simulation, SimulationConfig

pytestmark = pytest.mark.integration


@pytest.fixture
def kinesis(localstack: Settings):
    return aws.client("kinesis", localstack)


@pytest.fixture
def stream(localstack: Settings, kinesis, unique_name: str) -> Iterator[str]:
    """A fresh two-shard stream per test (LocalStack has no reset), deleted afterwards."""
    ensure_stream(localstack, unique_name, shards=2)
    yield unique_name
    kinesis.delete_stream(StreamName=unique_name, EnforceConsumerDeletion=True)


def read_back(kinesis, stream: str) -> dict[str, list[bytes]]:
    """Every event payload in the stream, per shard, deaggregated, from TRIM_HORIZON to the end."""
    payloads: dict[str, list[bytes]] = {}
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        shard_id = shard["ShardId"]
        payloads[shard_id] = []
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            for record in response["Records"]:
                payloads[shard_id].extend(deaggregate(record["Data"]))
            # Everything was written before reading, so the first empty page is the end.
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return payloads


def recorded(events, into: list[Event]) -> Iterator[Event]:
    for event in events:
        into.append(event)
        yield event


def test_every_event_sent_is_read_back_exactly_once(localstack, kinesis, stream):
    config = SimulationConfig(seed=8, stores=4, products=80, days=0.5, bad_rate=0.05)
    sent: list[Event] = []
    # Small records so each store's events span many aggregates across both shards.
    sink = KinesisSink(localstack, stream, client=kinesis, max_record_bytes=32 * 1024)
    summary = sink.send(recorded(Simulation(config), sent))

    assert summary.ok, summary.as_dict()
    assert summary.events_sent == len(sent) and summary.records_sent < len(sent)
    by_shard = read_back(kinesis, stream)
    received = [payload for payloads in by_shard.values() for payload in payloads]
    assert len(received) == len(sent)
    assert Counter(received) == Counter(event.payload for event in sent)
    assert all(by_shard.values()), "partition keys spread the stores over both shards"
    malformed = [event.payload for event in sent if event.bad_class == "malformed_json"]
    assert malformed and set(malformed) <= set(received), "malformed events survive aggregation byte for byte"


class PartialFailures:
    """Makes chosen records of a real PutRecords call fail the way Kinesis reports throttling.

    Why hooks on the real client rather than a LocalStack setting: LocalStack's only injector,
    KINESIS_ERROR_PROBABILITY, is process-wide (it would hit every test sharing the stack) and
    fails whole calls at random, and kinesis-mock enforces no shard throughput by default, so
    a partial failure cannot be provoked on the service side. Here the hook removes the chosen
    records from the request before it is sent, so LocalStack really stores only the others,
    and then puts a ProvisionedThroughputExceededException entry back at their positions in
    the parsed response: the client sees exactly Kinesis's partial-failure answer, and the
    retries travel to the real LocalStack. When every record of a call is chosen, the call is
    answered locally (200, all entries failed), since an empty PutRecords is invalid.
    """

    def __init__(self, client, should_fail) -> None:
        self.should_fail = should_fail  # (call number, position, record) -> bool
        self.calls = 0
        self.failed = 0
        client.meta.events.register("before-parameter-build.kinesis.PutRecords", self.before)
        client.meta.events.register("before-call.kinesis.PutRecords", self.before_call)
        client.meta.events.register("after-call.kinesis.PutRecords", self.after)

    def before(self, params, context, **kwargs) -> None:
        records = params["Records"]
        dropped = [i for i, record in enumerate(records) if self.should_fail(self.calls, i, record)]
        context["dropped"] = dropped
        self.calls += 1
        if len(dropped) == len(records):
            # An empty request is invalid: answer this call locally instead (see before_call).
            context["answer_locally"] = True
            return
        records[:] = [record for i, record in enumerate(records) if i not in set(dropped)]

    def before_call(self, context, **kwargs):
        """Every record fails: Kinesis would answer 200 with all entries failed and store nothing."""
        if context.get("answer_locally"):
            return SimpleNamespace(status_code=200), {"FailedRecordCount": 0, "Records": []}
        return None

    def after(self, parsed, context, **kwargs) -> None:
        dropped = context.get("dropped", [])
        if not dropped or "Records" not in parsed:
            return
        results = list(parsed["Records"])
        for index in dropped:
            results.insert(
                index,
                {
                    "ErrorCode": "ProvisionedThroughputExceededException",
                    "ErrorMessage": "Rate exceeded (injected)",
                },
            )
        parsed["Records"] = results
        parsed["FailedRecordCount"] = parsed.get("FailedRecordCount", 0) + len(dropped)
        self.failed += len(dropped)


def _small_run() -> Simulation:
    return Simulation(SimulationConfig(seed=12, stores=2, products=20, days=0.1))


def test_partially_failed_batches_are_retried_until_every_event_is_stored(localstack, kinesis, stream):
    # Every third record of the first call fails; the retry must store each of them once.
    hooks = PartialFailures(kinesis, lambda call, position, record: call == 0 and position % 3 == 0)
    sent: list[Event] = []
    sink = KinesisSink(localstack, stream, client=kinesis, aggregate=False, backoff_base_seconds=0.02)
    summary = sink.send(recorded(_small_run(), sent))

    assert hooks.failed > 0
    assert summary.records_retried == hooks.failed == summary.throttled
    assert summary.ok and summary.records_failed == 0
    received = [p for payloads in read_back(kinesis, stream).values() for p in payloads]
    assert Counter(received) == Counter(event.payload for event in sent)


def test_a_record_that_never_gets_through_is_reported_not_dropped(localstack, kinesis, stream):
    sent: list[Event] = []
    events = recorded(_small_run(), sent)
    doomed = b'"event_type":"stock_count"'
    PartialFailures(kinesis, lambda call, position, record: doomed in record["Data"])
    sink = KinesisSink(
        localstack, stream, client=kinesis, aggregate=False, max_attempts=3, backoff_base_seconds=0.01
    )
    summary = sink.send(events)

    expected_failures = [e.event_id for e in sent if doomed in e.payload]
    assert expected_failures and sorted(summary.failed_event_ids) == sorted(expected_failures)
    assert not summary.ok and summary.records_failed == len(expected_failures)
    assert summary.records_retried == 2 * len(expected_failures)
    received = [p for payloads in read_back(kinesis, stream).values() for p in payloads]
    assert len(received) == len(sent) - len(expected_failures)
    assert not any(json.loads(p)["event_id"] in expected_failures for p in received)
