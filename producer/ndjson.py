"""`--dry-run`: the payloads that would go to Kinesis, one per line, to a file or stdout.

Each line is one event's payload byte for byte (malformed ones included), so the output of
two runs with the same seed can be compared with `cmp`, and line N is the event with seq N.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import BinaryIO

from producer.events import Event
from producer.kinesis import DeliverySummary

_PROGRESS_EVERY = 5000


class NdjsonSink:
    """Writes payloads as NDJSON; same `send`/`stop` interface and summary as `KinesisSink`."""

    def __init__(
        self,
        output: BinaryIO,
        name: str = "stdout",
        on_progress: Callable[[DeliverySummary], None] | None = None,
    ) -> None:
        self.output = output
        self.name = name
        self.on_progress = on_progress
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def send(self, events: Iterable[Event]) -> DeliverySummary:
        summary = DeliverySummary(destination=f"ndjson:{self.name}")
        started = time.monotonic()
        write = self.output.write
        for event in events:
            if b"\n" in event.payload:
                raise ValueError(f"event seq {event.seq} holds a newline and cannot be written as NDJSON")
            write(event.payload + b"\n")
            summary.events_in += 1
            summary.events_sent += 1
            summary.records_sent += 1
            summary.sale_lines_sent += event.sale_lines
            summary.bytes_sent += len(event.payload) + 1
            if self.on_progress is not None and summary.events_sent % _PROGRESS_EVERY == 0:
                summary.elapsed_seconds = time.monotonic() - started
                self.on_progress(summary)
            if self._stop.is_set():
                summary.stopped_early = True
                break
        self.output.flush()
        summary.elapsed_seconds = time.monotonic() - started
        return summary
