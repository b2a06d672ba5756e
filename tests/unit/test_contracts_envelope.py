"""The aggregation envelope and record packing: what the consumer undoes must be what was sent."""

from __future__ import annotations

import json
import tracemalloc
import zlib

import pytest

from lakehouse.contracts.envelope import (
    MAGIC,
    MAX_BODY_BYTES,
    OVERSIZE_RECORD,
    AggregationError,
    Unpacked,
    aggregate,
    deaggregate,
    is_aggregate,
    pack_record,
    unpack,
)
from producer.events import Event
from producer.records import (
    MAX_BYTES_PER_CALL,
    MAX_RECORD_BYTES,
    MAX_RECORDS_PER_CALL,
    Record,
    RecordPacker,
    batches,
)

pytestmark = pytest.mark.unit

GOOD = [json.dumps({"event_id": str(n), "qty": n}, separators=(",", ":")).encode() for n in range(5)]
MALFORMED = b'{"event_id":"bad","lines":[{"sku":"SKU-00001","quantity":'


@pytest.mark.parametrize("codec", ["raw", "zlib"])
def test_round_trip_keeps_every_payload_byte_for_byte(codec):
    payloads = [*GOOD[:2], MALFORMED, *GOOD[2:]]
    data = aggregate(payloads, codec)
    assert is_aggregate(data)
    assert deaggregate(data) == payloads


@pytest.mark.parametrize("codec", ["raw", "zlib"])
def test_a_malformed_event_inside_comes_out_alone_and_its_neighbours_parse(codec):
    out = deaggregate(aggregate([GOOD[0], MALFORMED, GOOD[1]], codec))
    assert out[1] == MALFORMED
    with pytest.raises(json.JSONDecodeError):
        json.loads(out[1])
    assert [json.loads(out[0]), json.loads(out[2])] == [json.loads(GOOD[0]), json.loads(GOOD[1])]


def test_header_is_the_documented_text():
    data = aggregate(GOOD[:3], "raw")
    assert data.split(b"\n", 1)[0] == b"POSAGG/1 3 raw"
    assert data.split(b"\n", 1)[1] == b"\n".join(GOOD[:3])
    compressed = aggregate(GOOD[:3], "zlib")
    header, body = compressed.split(b"\n", 1)
    assert header == b"POSAGG/1 3 zlib"
    assert zlib.decompress(body) == b"\n".join(GOOD[:3])


def test_a_single_event_record_is_the_bare_payload():
    assert pack_record([GOOD[0]]) == GOOD[0]
    assert deaggregate(GOOD[0]) == [GOOD[0]]
    assert deaggregate(MALFORMED) == [MALFORMED]
    assert deaggregate(b"") == [b""]


def test_a_lone_payload_that_looks_like_an_envelope_is_wrapped():
    tricky = MAGIC + b"1 3 raw"
    data = pack_record([tricky])
    assert data != tricky
    assert deaggregate(data) == [tricky]


def test_payloads_with_newlines_or_nothing_cannot_be_aggregated():
    with pytest.raises(AggregationError, match="newline"):
        aggregate([GOOD[0], b'{"a":\n1}'])
    with pytest.raises(AggregationError):
        aggregate([])
    with pytest.raises(AggregationError, match="codec"):
        aggregate(GOOD, "lz4")


@pytest.mark.parametrize(
    "damaged",
    [
        b"POSAGG/1 3 raw\na\nb",  # count says 3, two payloads
        b"POSAGG/1 x raw\na",  # count not a number
        b"POSAGG/1 2 zlib\nnot zlib at all",  # corrupt body
        b"POSAGG/1 1 lz4\na",  # unknown codec
        b"POSAGG/2 1 raw\na",  # future version
        b"POSAGG/1 1 raw",  # header without body
        b"POSAGG/1 0 raw\n",  # zero events
    ],
)
def test_damaged_aggregates_come_out_whole_for_quarantine(damaged):
    assert deaggregate(damaged) == [damaged]


def _event(key: str, n: int, size: int = 100) -> Event:
    payload = json.dumps({"event_id": f"{key}-{n}", "pad": "x" * size}).encode()
    return Event(n, f"{key}-{n}", "sale", key, 0, payload, 1)


def test_packer_keeps_each_partition_keys_events_in_order_and_under_the_size_cap():
    packer = RecordPacker(aggregate=True, max_record_bytes=2000, codec="raw")
    events = [_event(key, n) for n in range(40) for key in ("S001", "S002")]
    records = [record for event in events for record in packer.add(event)] + packer.drain()
    assert packer.open_events == 0
    for key in ("S001", "S002"):
        ids = [eid for record in records if record.partition_key == key for eid in record.event_ids]
        assert ids == [f"{key}-{n}" for n in range(40)]
    for record in records:
        assert record.size <= 2000
        assert [json.loads(p)["event_id"] for p in deaggregate(record.data)] == list(record.event_ids)
        assert record.sale_lines == len(record.event_ids)


def test_packer_without_aggregation_sends_one_bare_event_per_record():
    packer = RecordPacker(aggregate=False)
    events = [_event("S001", n) for n in range(3)]
    records = [record for event in events for record in packer.add(event)]
    assert [record.data for record in records] == [event.payload for event in events]
    assert packer.drain() == []


def test_an_event_with_a_newline_leaves_alone_after_its_keys_open_record():
    packer = RecordPacker(aggregate=True, codec="raw")
    first = _event("S001", 1)
    odd = Event(2, "odd", "sale", "S001", 0, b'{"a":\n1}', 0)
    assert packer.add(first) == []
    records = packer.add(odd)
    assert [record.event_ids for record in records] == [("S001-1",), ("odd",)]


def test_batches_respect_the_putrecords_limits():
    small = [Record("S001", b"x" * 10, ("a",), 0) for _ in range(1201)]
    assert [len(batch) for batch in batches(small)] == [MAX_RECORDS_PER_CALL, MAX_RECORDS_PER_CALL, 201]
    big = [Record("S001", b"x" * (1024 * 1024 - 10), ("a",), 0) for _ in range(11)]
    sized = list(batches(big))
    assert all(sum(record.size for record in batch) <= MAX_BYTES_PER_CALL for batch in sized)
    assert sum(len(batch) for batch in sized) == 11


def _zlib_bomb(expanded_bytes: int) -> bytes:
    """A one-event zlib aggregate whose body inflates to `expanded_bytes`, built without holding them."""
    deflater = zlib.compressobj(9)
    chunk = b"x" * (1024 * 1024)
    parts = [deflater.compress(b'{"pad":"')]
    for _ in range(expanded_bytes // len(chunk)):
        parts.append(deflater.compress(chunk))
    parts.append(deflater.compress(b'"}') + deflater.flush())
    return b"POSAGG/1 1 zlib\n" + b"".join(parts)


def test_a_zlib_bomb_comes_out_whole_as_oversize_and_memory_stays_bounded():
    bomb = _zlib_bomb(200 * 1024 * 1024)
    assert len(bomb) < 300 * 1024  # about 200 KB on the wire for 200 MB inflated
    tracemalloc.start()
    try:
        unpacked = unpack(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert unpacked.payloads == [bomb]
    assert unpacked.problem == OVERSIZE_RECORD
    assert unpacked.detail == f"zlib body expands past {MAX_BODY_BYTES} bytes"
    assert peak < 3 * MAX_BODY_BYTES, peak


def test_a_body_at_the_limit_unpacks_and_one_byte_more_is_oversize():
    pad = MAX_BODY_BYTES - len(b'{"pad":""}')
    exact = json.dumps({"pad": "y" * pad}, separators=(",", ":")).encode()
    assert len(exact) == MAX_BODY_BYTES
    for codec in ("raw", "zlib"):
        assert unpack(aggregate([exact], codec)) == Unpacked([exact])
        over = aggregate([exact + b" "], codec)
        assert unpack(over).problem == OVERSIZE_RECORD


def test_the_producer_never_packs_more_than_the_consumer_opens():
    assert MAX_RECORD_BYTES <= MAX_BODY_BYTES


def test_truncated_zlib_body_comes_out_whole_without_a_problem():
    data = aggregate(GOOD[:3], "zlib")
    assert unpack(data[:-5]) == Unpacked([data[:-5]])
