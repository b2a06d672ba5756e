import gzip
import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from ingestion.bronze_format import BronzeEvent, decode_object, encode_object, object_key, raw_payload
from ingestion.drain import ShardReader, readable

pytestmark = pytest.mark.unit

ARRIVAL = datetime(2026, 11, 22, 6, 35, 0, 123000, tzinfo=UTC)
INGESTED = datetime(2026, 11, 22, 7, 5, 9, tzinfo=UTC)


def _event(payload: bytes, subsequence: int = 0) -> BronzeEvent:
    return BronzeEvent("pos-events", "shardId-000000000001", "4968001", subsequence, "S001", ARRIVAL, payload)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"event_id": "a", "store_id": "S001"}',
        b'{"event_id": "b", "lines": [',  # malformed JSON stays as it came
        "caf\u00e9 \u2615".encode(),
        b"\xff\xfe not utf-8 \x00",
        b"",
    ],
)
def test_payload_survives_byte_for_byte(payload: bytes):
    (line,) = decode_object(encode_object([_event(payload)], INGESTED))
    assert raw_payload(line) == payload


def test_line_carries_kinesis_metadata_and_ingest_time():
    (line,) = decode_object(encode_object([_event(b"{}", subsequence=3)], INGESTED))
    assert line["stream"] == "pos-events"
    assert line["shard_id"] == "shardId-000000000001"
    assert line["sequence_number"] == "4968001"
    assert line["subsequence"] == 3
    assert line["partition_key"] == "S001"
    assert line["approximate_arrival"] == "2026-11-22T06:35:00.123Z"
    assert line["ingested_at"] == "2026-11-22T07:05:09.000Z"


def test_object_is_gzip_ndjson_one_line_per_event():
    body = encode_object([_event(b"{}", index) for index in range(5)], INGESTED)
    lines = gzip.decompress(body).splitlines()
    assert len(lines) == 5
    assert all(json.loads(line)["payload"] == "{}" for line in lines)


def test_key_is_partitioned_by_ingest_hour_and_derived_from_the_sequence_range():
    key = object_key("pos-events", "shardId-000000000001", "100", "200", INGESTED)
    assert key == (
        "raw/pos-events/ingest_date=2026-11-22/ingest_hour=07/shardId-000000000001/100-200.ndjson.gz"
    )


def test_children_wait_for_their_parents():
    parent = {"ShardId": "shardId-0"}
    child = {"ShardId": "shardId-2", "ParentShardId": "shardId-0"}
    merged = {"ShardId": "shardId-3", "ParentShardId": "shardId-0", "AdjacentParentShardId": "shardId-1"}
    known = {"shardId-0", "shardId-1", "shardId-2", "shardId-3"}
    assert readable(parent, known, finished=set())
    assert not readable(child, known, finished=set())
    assert readable(child, known, finished={"shardId-0"})
    assert not readable(merged, known, finished={"shardId-0"})
    assert readable(merged, known, finished={"shardId-0", "shardId-1"})
    # A parent past the retention period is gone from the stream: nothing to wait for.
    assert readable(child, known - {"shardId-0"}, finished=set())


@pytest.mark.parametrize(
    "payload", [b'{"a": "\\"quoted\\" \\\\ and \\u2028"}', "tab\tcaf\u00e9\n\u2615".encode(), b"\xff\x00"]
)
def test_line_is_exactly_what_json_dumps_writes(payload: bytes):
    event = _event(payload, subsequence=7)
    (line,) = gzip.decompress(encode_object([event], INGESTED)).splitlines()
    expected = json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":")).encode()
    assert line == expected
    assert list(json.loads(line)) == [
        "stream",
        "shard_id",
        "sequence_number",
        "subsequence",
        "partition_key",
        "approximate_arrival",
        "ingested_at",
        "payload",
        "payload_encoding",
    ]


class _ExpiringKinesis:
    """Answers one GetRecords, then says the iterator expired once, as Kinesis does after 5 minutes."""

    def __init__(self) -> None:
        self.iterator_requests: list[dict] = []
        self.expired_once = False

    def get_shard_iterator(self, **arguments) -> dict:
        self.iterator_requests.append(arguments)
        return {"ShardIterator": f"it-{len(self.iterator_requests)}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict:
        if ShardIterator == "it-1":
            return {
                "Records": [{"SequenceNumber": "42"}],
                "NextShardIterator": "it-old",
                "MillisBehindLatest": 5,
            }
        if ShardIterator == "it-old" and not self.expired_once:
            self.expired_once = True
            error = {"Error": {"Code": "ExpiredIteratorException", "Message": "Iterator expired"}}
            raise ClientError(error, "GetRecords")
        return {"Records": [], "NextShardIterator": "it-next", "MillisBehindLatest": 0}


def test_shard_reader_renews_an_expired_iterator_after_the_last_record_read():
    kinesis = _ExpiringKinesis()
    reader = ShardReader(kinesis, "pos-events", "shardId-000000000000", None, limit=5)
    assert reader.read() == ([{"SequenceNumber": "42"}], False, False)
    assert reader.read() == ([], False, False)  # expired: renewed, nothing lost
    assert kinesis.iterator_requests[-1] == {
        "StreamName": "pos-events",
        "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
        "StartingSequenceNumber": "42",
    }
    assert reader.read() == ([], True, False)
