"""The Event the producer yields, and the small encoders every event type shares.

Payloads are built as bytes once, at generation time: the sinks, the truth file and the bad
input injector all work on those exact bytes, so what is counted is what is sent.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from functools import lru_cache

from lakehouse.contracts.events import SCHEMA_VERSION

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


@dataclass(frozen=True, slots=True)
class Event:
    """One event as it leaves the producer.

    `seq` is the event's 0-based position in the producer's output (the line number in
    `--dry-run` output); the truth file names bad events by it and by `event_id`.
    `bad_class` is set on injected bad input and never appears in the payload.
    """

    seq: int
    event_id: str
    event_type: str
    partition_key: str
    event_time_ms: int
    payload: bytes
    sale_lines: int = 0
    bad_class: str | None = None


def encode(document: dict) -> bytes:
    """Compact ASCII JSON: no newlines can appear, so payloads fit the aggregation envelope."""
    return _dumps(document).encode("ascii")


def money(cents: int) -> str:
    """Money travels as a decimal string with exactly two decimals ("12.30"): no float rounding."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def iso_time(epoch_ms: int) -> str:
    """UTC ISO-8601 with milliseconds and a Z: `2024-03-01T08:15:30.123Z`."""
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


@lru_cache(maxsize=1 << 16)
def _iso_second(epoch_seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_seconds))


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID string drawn from a seeded RNG, so runs are reproducible (not uuid4)."""
    bits = rng.getrandbits(128)
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def envelope(event_id: str, event_type: str, event_time_ms: int, store_id: str | None) -> dict:
    """The fields every event starts with, in the documented order."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": SCHEMA_VERSION,
        "event_time": iso_time(event_time_ms),
        "store_id": store_id,
    }
