"""Delivery to Kinesis: PutRecords batches, retries with backoff and jitter, an honest summary.

`KinesisSink(settings).send(events)` drains an event iterator into the stream and returns a
`DeliverySummary`. Nothing is dropped silently: a record that still fails after
`max_attempts` is counted in `records_failed`/`events_failed` with its event ids, and an error
that retrying cannot fix (no such stream, access denied) raises `DeliveryError` carrying the
summary so far.

The iterator runs on a feeder thread and the sender on the calling thread, so generation
overlaps network waits and a half-full record still leaves after `linger_seconds` when the
source is quiet (live mode). Order: events of one store inside one record keep their order;
across records Kinesis and retries may reorder, so consumers order by `event_time` and
deduplicate by `event_id`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from lakehouse import aws
from lakehouse.config import Settings, load_settings
from lakehouse.contracts.envelope import ZLIB
from producer.events import Event
from producer.records import (
    DEFAULT_AGGREGATE_BYTES,
    MAX_BYTES_PER_CALL,
    MAX_RECORD_BYTES,
    MAX_RECORDS_PER_CALL,
    Record,
    RecordPacker,
    batches,
)

# Whole-call errors worth retrying; anything else (ResourceNotFound, AccessDenied, Validation)
# will not heal by waiting.
RETRYABLE_CALL_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "LimitExceededException",
        "KMSThrottlingException",
        "InternalFailure",
        "InternalFailureException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
THROTTLED = "ProvisionedThroughputExceededException"


class DeliveryError(RuntimeError):
    """Delivery cannot go on; `summary` says what was sent before it stopped."""

    def __init__(self, message: str, summary: DeliverySummary) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class DeliverySummary:
    """What happened to every event handed to a sink."""

    destination: str
    events_in: int = 0
    records_sent: int = 0
    events_sent: int = 0
    sale_lines_sent: int = 0
    bytes_sent: int = 0
    put_calls: int = 0
    records_retried: int = 0
    throttled: int = 0
    records_failed: int = 0
    events_failed: int = 0
    failed_event_ids: list[str] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    elapsed_seconds: float = 0.0
    stopped_early: bool = False

    @property
    def ok(self) -> bool:
        return self.records_failed == 0 and self.events_sent == self.events_in

    @property
    def events_per_second(self) -> float:
        return self.events_sent / self.elapsed_seconds if self.elapsed_seconds else 0.0

    @property
    def records_per_second(self) -> float:
        return self.records_sent / self.elapsed_seconds if self.elapsed_seconds else 0.0

    def line(self) -> str:
        """One human line, for the progress display and the final report."""
        return (
            f"{self.events_sent:,} events in {self.records_sent:,} records sent "
            f"({self.events_per_second:,.0f} events/s, {self.records_per_second:,.0f} records/s), "
            f"{self.records_retried:,} record retries, {self.records_failed:,} records / "
            f"{self.events_failed:,} events failed"
        )

    def as_dict(self) -> dict:
        return {
            "destination": self.destination,
            "events_in": self.events_in,
            "events_sent": self.events_sent,
            "records_sent": self.records_sent,
            "sale_lines_sent": self.sale_lines_sent,
            "bytes_sent": self.bytes_sent,
            "put_calls": self.put_calls,
            "records_retried": self.records_retried,
            "throttled": self.throttled,
            "records_failed": self.records_failed,
            "events_failed": self.events_failed,
            "failed_event_ids": self.failed_event_ids,
            "errors": dict(self.errors),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "records_per_second": round(self.records_per_second, 1),
            "stopped_early": self.stopped_early,
        }


class KinesisSink:
    """Sends events to one Kinesis stream with PutRecords, aggregated by default."""

    def __init__(
        self,
        settings: Settings | None = None,
        stream: str | None = None,
        *,
        aggregate: bool = True,
        max_record_bytes: int = DEFAULT_AGGREGATE_BYTES,
        codec: str = ZLIB,
        linger_seconds: float = 0.2,
        max_attempts: int = 10,
        backoff_base_seconds: float = 0.05,
        backoff_cap_seconds: float = 5.0,
        client: object | None = None,
        on_progress: Callable[[DeliverySummary], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        settings = settings or load_settings()
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.stream = stream or settings.kinesis_stream
        self.client = client or aws.client("kinesis", settings, stage="producer")
        self.aggregate = aggregate
        self.max_record_bytes = max_record_bytes
        self.codec = codec
        self.linger_seconds = linger_seconds
        self.max_attempts = max_attempts
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_cap_seconds = backoff_cap_seconds
        self.on_progress = on_progress
        self._sleep = sleep
        self._jitter = random.Random()
        self._stop = threading.Event()

    def stop(self) -> None:
        """Stop taking events from the source; what was already taken is still sent."""
        self._stop.set()

    def send(self, events: Iterable[Event]) -> DeliverySummary:
        """Deliver every event the iterable yields (until `stop()`), then return the summary."""
        summary = DeliverySummary(destination=f"kinesis:{self.stream}")
        packer = RecordPacker(
            aggregate=self.aggregate, max_record_bytes=self.max_record_bytes, codec=self.codec
        )
        handoff = _Handoff()
        feeder = threading.Thread(
            target=self._feed, args=(events, handoff), name="producer-feeder", daemon=True
        )
        started = time.monotonic()
        pending: list[Record] = []
        pending_bytes = 0
        oldest: float | None = None  # when the oldest unsent event was taken
        feeder.start()
        try:
            while True:
                linger_left = None if oldest is None else oldest + self.linger_seconds - time.monotonic()
                taken, finished = handoff.take(linger_left)
                if taken:
                    summary.events_in += len(taken)
                    oldest = oldest or time.monotonic()
                    for event in taken:
                        for record in packer.add(event):
                            pending.append(record)
                            pending_bytes += record.size
                if finished:
                    break
                # Full batches leave at once; the rest waits for the linger time.
                if len(pending) >= MAX_RECORDS_PER_CALL or pending_bytes >= MAX_BYTES_PER_CALL:
                    self._deliver(pending, summary, started)
                    pending, pending_bytes = [], 0
                    oldest = time.monotonic() if packer.open_events else None
                if oldest is not None and time.monotonic() - oldest >= self.linger_seconds:
                    self._deliver(pending + packer.drain(), summary, started)
                    pending, pending_bytes, oldest = [], 0, None
            self._deliver(pending + packer.drain(), summary, started)
        except BaseException:
            self._stop.set()
            handoff.abandon()
            raise
        finally:
            feeder.join(timeout=5)
            summary.elapsed_seconds = time.monotonic() - started
        summary.stopped_early = self._stop.is_set()
        if handoff.failure is not None:
            raise handoff.failure
        return summary

    def _feed(self, events: Iterable[Event], handoff: _Handoff) -> None:
        """Feeder thread: pull events from the source and hand them over, then close the hand-off."""
        try:
            for event in events:
                handoff.put(event)
                if self._stop.is_set():
                    break
        except BaseException as error:  # re-raised on the caller's thread, never lost
            handoff.failure = error
        finally:
            handoff.close()

    def _deliver(self, records: list[Record], summary: DeliverySummary, started: float) -> None:
        sendable = []
        for record in records:
            if record.size > MAX_RECORD_BYTES:
                self._fail([record], "RecordTooLarge", summary)
            else:
                sendable.append(record)
        for batch in batches(sendable):
            self._put_with_retries(batch, summary)
            summary.elapsed_seconds = time.monotonic() - started
            if self.on_progress is not None:
                self.on_progress(summary)

    def _put_with_retries(self, batch: list[Record], summary: DeliverySummary) -> None:
        todo = batch
        attempt = 1
        while True:
            codes = self._put(todo, summary)
            retry = []
            for record, code in zip(todo, codes, strict=True):
                if code is None:
                    summary.records_sent += 1
                    summary.events_sent += len(record.event_ids)
                    summary.sale_lines_sent += record.sale_lines
                    summary.bytes_sent += len(record.data)
                else:
                    summary.errors[code] += 1
                    summary.throttled += code == THROTTLED
                    retry.append((record, code))
            if not retry:
                return
            if attempt >= self.max_attempts:
                for record, code in retry:
                    self._fail([record], code, summary)
                return
            summary.records_retried += len(retry)
            self._sleep(self._backoff(attempt))
            todo = [record for record, _ in retry]
            attempt += 1

    def _put(self, records: list[Record], summary: DeliverySummary) -> list[str | None]:
        """One PutRecords call: an error code per record, None where it was stored."""
        summary.put_calls += 1
        try:
            response = self.client.put_records(
                StreamName=self.stream,
                Records=[{"Data": record.data, "PartitionKey": record.partition_key} for record in records],
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            if code not in RETRYABLE_CALL_ERRORS:
                self._fail(records, code, summary)
                hint = (
                    " (create it with --create-stream or `make up`)"
                    if code == "ResourceNotFoundException"
                    else ""
                )
                raise DeliveryError(
                    f"PutRecords to stream {self.stream!r} failed: {error}{hint}", summary
                ) from error
            return [code] * len(records)
        except (BotoConnectionError, HTTPClientError) as error:  # refused, reset, timed out: may come back
            return [type(error).__name__] * len(records)
        except BotoCoreError as error:  # bad parameters, no credentials: waiting will not help
            self._fail(records, type(error).__name__, summary)
            raise DeliveryError(f"PutRecords to stream {self.stream!r} failed: {error}", summary) from error
        results = response["Records"]
        if len(results) != len(records):
            raise DeliveryError(
                f"PutRecords answered {len(results)} results for {len(records)} records", summary
            )
        return [result.get("ErrorCode") for result in results]

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: spreads retries of many producers apart."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2**attempt)
        return self._jitter.uniform(0, ceiling)

    @staticmethod
    def _fail(records: list[Record], code: str, summary: DeliverySummary) -> None:
        for record in records:
            summary.records_failed += 1
            summary.events_failed += len(record.event_ids)
            summary.failed_event_ids.extend(record.event_ids)
            summary.errors[f"failed:{code}"] += 1


class _Handoff:
    """Events from the feeder thread to the sender, bounded, picked up at least every POLL_SECONDS.

    The sender polls rather than waiting for a notification per event: events that arrive
    just before the source goes quiet (live mode between ticks) still leave within the
    linger time, and a busy source costs one lock round-trip per CHUNK events, not per event.
    """

    CAPACITY = 10_000
    CHUNK = 256
    POLL_SECONDS = 0.02

    def __init__(self) -> None:
        self.items: deque[Event] = deque()
        self.condition = threading.Condition()
        self.closed = False
        self.abandoned = False
        self.failure: BaseException | None = None

    def put(self, event: Event) -> None:
        self.items.append(event)
        if len(self.items) % self.CHUNK == 0:
            with self.condition:
                self.condition.notify_all()
                while len(self.items) >= self.CAPACITY and not self.abandoned:
                    self.condition.wait(self.POLL_SECONDS)

    def close(self) -> None:
        with self.condition:
            self.closed = True
            self.condition.notify_all()

    def abandon(self) -> None:
        """The sender gave up: never block the feeder again."""
        with self.condition:
            self.abandoned = True
            self.condition.notify_all()

    def take(self, wait_at_most: float | None) -> tuple[list[Event], bool]:
        """Whatever is waiting (after up to one poll interval), and whether the feeder is done."""
        timeout = (
            self.POLL_SECONDS if wait_at_most is None else max(0.0, min(self.POLL_SECONDS, wait_at_most))
        )
        with self.condition:
            if len(self.items) < self.CHUNK and not self.closed:
                self.condition.wait(timeout)
            closed = self.closed  # read before draining: nothing can follow a close
            taken = []
            while self.items:
                taken.append(self.items.popleft())
            self.condition.notify_all()
        return taken, closed
