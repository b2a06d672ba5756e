"""A private stack carrying a live stream, as the live benchmarks need it (freshness, soak).

`live_stack` starts a private stack (bench/private_stack.py) whose Mage schedules run every
minute as in `make demo`, sends a backfill and waits until gold has it, and optionally starts
the `pos_live` pipeline (`mage run`, as `make live` does) and waits for its first pass, so the
live phase begins as in a deployment where the loop is always running. Meanwhile a sampler
keeps the stack's resident memory: every component with all its descendants, pos_live too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench.private_stack import PrivateStack, private_stack
from lakehouse.config import Settings
from lakehouse.resources import ensure_resources
from ops.demo import FIRST_PASS, send, wait_for_gold
from ops.mage import start_pipeline, stop_pipeline, wait_for_log_line
from ops.stack import process
from producer.simulation import SimulationConfig

CATCH_UP_SECONDS = 1800


class MemorySampler(threading.Thread):
    """Samples the stack's resident memory until stopped; keeps the peak of the total."""

    def __init__(self, stack: PrivateStack, interval: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.stack, self.interval = stack, interval
        self.extra_pids: dict[str, int] = {}  # processes started beside the stack (pos_live)
        self.peak_total = 0
        self.peak_by_component: dict[str, int] = {}
        self._samples: list[tuple[float, int]] | None = None  # (monotonic time, total) when recording
        self._stop_event = threading.Event()

    def record_from_now(self) -> None:
        """Keep every total from now on (the soak bench's memory over time)."""
        self._samples = []

    def recorded(self) -> list[tuple[float, int]]:
        """The totals kept since `record_from_now`, and stop keeping them."""
        samples, self._samples = self._samples or [], None
        return samples

    def run(self) -> None:
        while not self._stop_event.is_set():
            sizes = self.stack.resident_bytes()
            for name, pid in self.extra_pids.items():
                sizes[name] = process.tree_rss_bytes(pid)
            self.peak_total = max(self.peak_total, sum(sizes.values()))
            if self._samples is not None:
                self._samples.append((time.monotonic(), sum(sizes.values())))
            for name, size in sizes.items():
                self.peak_by_component[name] = max(self.peak_by_component.get(name, 0), size)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@dataclass
class LiveStack:
    """The private stack's settings, its memory sampler, and what the backfill sent."""

    settings: Settings
    sampler: MemorySampler
    backfill_sent: int
    stopped: bool = False
    streaming: object = None

    def stop(self) -> None:
        """Stop sampling and pos_live (before reading the figures); the stack itself stays up."""
        if self.stopped:
            return
        self.stopped = True
        self.sampler.stop()
        if self.streaming is not None:
            stop_pipeline(self.streaming)


@contextmanager
def live_stack(
    settings: Settings, backfill: SimulationConfig, with_pos_live: bool = True
) -> Iterator[LiveStack]:
    with private_stack(settings) as stack:
        private = stack.settings
        ensure_resources(private)
        sampler = MemorySampler(stack)
        sampler.start()
        live = LiveStack(private, sampler, backfill_sent=0)
        try:
            live.backfill_sent, newest = send(private, backfill, "backfill")
            if not wait_for_gold(private, newest, CATCH_UP_SECONDS):
                raise RuntimeError("gold did not catch up with the backfill; see the private Mage's runs")
            if with_pos_live:
                log_path = private.stack_run_dir / "pos_live.log"
                live.streaming = start_pipeline("pos_live", private, log_path)
                sampler.extra_pids["pos_live"] = live.streaming.pid
                wait_for_log_line(log_path, live.streaming, FIRST_PASS, timeout=900)
            yield live
        finally:
            live.stop()
