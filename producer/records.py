"""From events to Kinesis records and PutRecords batches, within the service's limits.

Kinesis takes at most 500 records and 5 MiB per PutRecords call, and 1 MiB per record
(data plus partition key). With aggregation on, consecutive events of one partition key
(one store) share a record until their uncompressed size reaches `max_record_bytes` (the
compressed record is never larger), so a store's events stay in order inside a record; with
it off, each event is its own record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lakehouse.contracts.envelope import CODECS, HEADER_RESERVE, ZLIB, can_aggregate, pack_record
from producer.events import Event

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
DEFAULT_AGGREGATE_BYTES = 512 * 1024  # uncompressed; about 80 KB of zlib on the wire


@dataclass(frozen=True, slots=True)
class Record:
    """One Kinesis record and the events it carries (for counting and failure reports)."""

    partition_key: str
    data: bytes
    event_ids: tuple[str, ...]
    sale_lines: int

    @property
    def size(self) -> int:
        """What counts against the Kinesis limits: data plus partition key."""
        return len(self.data) + len(self.partition_key.encode())


class _Open:
    """The events gathered so far for one partition key."""

    __slots__ = ("event_ids", "payloads", "sale_lines", "size")

    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        self.event_ids: list[str] = []
        self.size = HEADER_RESERVE
        self.sale_lines = 0


class RecordPacker:
    """Turns events into records; `add` returns records that are complete, `drain` the rest."""

    def __init__(
        self, *, aggregate: bool, max_record_bytes: int = DEFAULT_AGGREGATE_BYTES, codec: str = ZLIB
    ) -> None:
        if not 1 <= max_record_bytes <= MAX_RECORD_BYTES:
            raise ValueError(f"max_record_bytes must be 1..{MAX_RECORD_BYTES}, got {max_record_bytes}")
        if codec not in CODECS:
            raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")
        self.aggregate = aggregate
        self.codec = codec
        self.max_record_bytes = max_record_bytes
        self._open: dict[str, _Open] = {}
        self.open_events = 0

    def add(self, event: Event) -> list[Record]:
        key = event.partition_key
        if not self.aggregate or not can_aggregate(event.payload):
            done = self._close(key)
            done.append(Record(key, pack_record([event.payload]), (event.event_id,), event.sale_lines))
            return done
        # Newline separator and key count against the record size too.
        cost = len(event.payload) + 1
        limit = self.max_record_bytes - len(key.encode())
        current = self._open.get(key)
        done = []
        if current is not None and current.size + cost > limit:
            done = self._close(key)
            current = None
        if current is None:
            current = self._open[key] = _Open()
        current.payloads.append(event.payload)
        current.event_ids.append(event.event_id)
        current.size += cost
        current.sale_lines += event.sale_lines
        self.open_events += 1
        return done

    def drain(self) -> list[Record]:
        """Close every open record, oldest partition key first."""
        done = []
        for key in list(self._open):
            done.extend(self._close(key))
        return done

    def _close(self, key: str) -> list[Record]:
        current = self._open.pop(key, None)
        if current is None:
            return []
        self.open_events -= len(current.payloads)
        data = pack_record(current.payloads, self.codec)
        return [Record(key, data, tuple(current.event_ids), current.sale_lines)]


def batches(records: list[Record]) -> Iterator[list[Record]]:
    """Consecutive slices of `records` that each fit one PutRecords call."""
    batch: list[Record] = []
    size = 0
    for record in records:
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + record.size > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record.size
    if batch:
        yield batch
