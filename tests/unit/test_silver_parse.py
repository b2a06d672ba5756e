"""Bronze text -> typed events: each bad-input class gets its reason code; good events normalise."""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ingestion.bronze_format import BronzeEvent, to_line
from spark_jobs.silver import reasons
from spark_jobs.silver.parse import parse_bronze_lines, parse_events, split_lines
from tests.support import sample_events as se

pytestmark = pytest.mark.unit

KEY = "raw/pos-events/ingest_date=2026-11-22/ingest_hour=06/shardId-000000000000/1-30.ndjson.gz"
EVENT_ID = "0B5C4A2E-1F3D-4C5B-9A8E-7D6C5B4A3F21"


def _sale(**changes):
    return se.sale_event("S001", [se.sale_line(1, "SKU-1", 2, "1.50")], **changes)


def _sale_line(**changes):
    return _sale(lines=[{**se.sale_line(1, "SKU-1"), **changes}])


def _without(event: dict, name: str) -> dict:
    return {key: value for key, value in event.items() if key != name}


ARRIVAL = datetime(2026, 11, 22, 6, 1, tzinfo=UTC)
OVERSIZE_DETAIL = "zlib body expands past 1048576 bytes"
KEPT_WHOLE = b"POSAGG/1 1 zlib\n" + zlib.compress(b"x" * 4096)  # a zlib bomb's start, not UTF-8


def _kept_whole(reason: str) -> str:
    """A bronze line as the drainer writes a record it would not open."""
    event = BronzeEvent(
        "pos-events", "shardId-000000000000", "7", 0, "S001", ARRIVAL, KEPT_WHOLE, reason, OVERSIZE_DETAIL
    )
    return to_line(event, ARRIVAL).decode().rstrip("\n")


# name -> (bronze item, expected reason, expected detail)
CASES = {
    "valid sale, unknown fields": (
        _sale(
            event_id=EVENT_ID,
            store_id="  S001 ",
            event_time="2026-11-22T08:00:00.250+02:00",
            coupon={"code": "X"},
            extra=[1, 2],
        ),
        None,
        None,
    ),
    "a key-like text inside an unknown string": (_sale(note='cashier typed "store_id": 7'), None, None),
    "valid delivery": (se.delivery_event("S001", [("SKU-1", 4)]), None, None),
    "valid product without store": (se.product_event("SKU-1"), None, None),
    "valid store": (se.store_event("S001"), None, None),
    "not a bronze line": (
        ("raw", "garbage that ingestion never writes"),
        reasons.MALFORMED_BRONZE_LINE,
        None,
    ),
    "oversize aggregate kept whole by ingestion": (
        ("raw", _kept_whole(reasons.OVERSIZE_RECORD)),
        reasons.OVERSIZE_RECORD,
        "zlib body expands past 1048576 bytes",
    ),
    "a reason ingestion never gives": (
        ("raw", _kept_whole("moon_phase")),
        reasons.MALFORMED_BRONZE_LINE,
        None,
    ),
    "broken JSON": ('{"event_id": "a", "lines": [', reasons.MALFORMED_JSON, "not a JSON object"),
    "JSON array": ("[1, 2]", reasons.MALFORMED_JSON, "not a JSON object"),
    "single-quoted key": (
        se.payload(_sale()).decode().replace('"event_type"', "'event_type'"),
        reasons.MALFORMED_JSON,
        "not a JSON object",
    ),
    "trailing comma": (se.payload(_sale()).decode()[:-1] + ",}", reasons.MALFORMED_JSON, "not a JSON object"),
    "not UTF-8": (b"\xff\xfe\x00 binary", reasons.MALFORMED_JSON, "payload is not UTF-8 text"),
    "no event_type": (_without(_sale(), "event_type"), reasons.MISSING_FIELD, "event_type"),
    "unknown event_type": (_sale(event_type="refund"), reasons.UNSUPPORTED_EVENT_TYPE, "event_type refund"),
    "unknown version": (_sale(schema_version=2), reasons.UNSUPPORTED_SCHEMA_VERSION, "sale schema_version 2"),
    "no event_id": (_without(_sale(), "event_id"), reasons.MISSING_FIELD, "event_id"),
    "blank store_id": (_sale(store_id="   "), reasons.MISSING_FIELD, "store_id"),
    "empty lines": (_sale(lines=[]), reasons.MISSING_FIELD, "lines (absent or empty)"),
    "line without sku": (
        _sale(lines=[_without(se.sale_line(1, "X"), "sku")]),
        reasons.MISSING_FIELD,
        "lines[].sku",
    ),
    "quoted quantity": (_sale_line(quantity="2"), reasons.WRONG_TYPE, "lines[].quantity"),
    "fractional quantity": (_sale_line(quantity=1.5), reasons.WRONG_TYPE, "lines[].quantity"),
    "quoted schema_version": (_sale(schema_version="1"), reasons.WRONG_TYPE, "schema_version"),
    "lines not a list": (_sale(lines={"sku": "SKU-1"}), reasons.WRONG_TYPE, "lines"),
    "store_id as a number": (_sale(store_id=1), reasons.WRONG_TYPE, "store_id is not a JSON string"),
    "money as a number": (_sale_line(unit_price=3.49), reasons.WRONG_TYPE, "unit_price is not a JSON string"),
    "time as a number": (
        _sale(event_time=1_700_000_000_000),
        reasons.WRONG_TYPE,
        "event_time is not a JSON string",
    ),
    "event_id not a UUID": (_sale(event_id="sale-1"), reasons.WRONG_TYPE, "event_id"),
    "time without zone": (_sale(event_time="2026-11-22 06:00:00"), reasons.WRONG_TYPE, "event_time"),
    "three decimals": (_sale_line(unit_price="1.505"), reasons.WRONG_TYPE, "lines[].unit_price"),
    "money as text": (_sale_line(unit_price="two"), reasons.WRONG_TYPE, "lines[].unit_price"),
    "valid purchase order": (se.purchase_order_event("S001", [("SKU-1", 6)]), None, None),
    "valid promotion": (se.promotion_event("PR-1", [" SKU-1 ", "SKU-2"]), None, None),
    "purchase order without expected_at": (
        _without(se.purchase_order_event("S001", [("SKU-1", 6)]), "expected_at"),
        reasons.MISSING_FIELD,
        "expected_at",
    ),
    "promotion without skus": (
        se.promotion_event("PR-2", []),
        reasons.MISSING_FIELD,
        "skus (absent, empty or with a blank value)",
    ),
    "promotion with a blank sku": (
        se.promotion_event("PR-3", ["SKU-1", " "]),
        reasons.MISSING_FIELD,
        "skus (absent, empty or with a blank value)",
    ),
    "promotion skus not a list": (
        se.promotion_event("PR-4", [], skus={"0": "SKU-1"}),
        reasons.WRONG_TYPE,
        "skus",
    ),
    "quoted discount": (
        se.promotion_event("PR-5", ["SKU-1"], discount_percent="20"),
        reasons.WRONG_TYPE,
        "discount_percent",
    ),
    "day as a number": (
        se.promotion_event("PR-6", ["SKU-1"], first_day=20261129),
        reasons.WRONG_TYPE,
        "first_day is not a JSON string",
    ),
    "impossible day": (
        se.promotion_event("PR-7", ["SKU-1"], last_day="2026-02-30"),
        reasons.WRONG_TYPE,
        "last_day",
    ),
}


@pytest.fixture(scope="module")
def parsed(bronze_objects) -> dict:
    """Every case in one object, parsed once; rows by case name."""
    frame = bronze_objects({KEY: [item for item, _, _ in CASES.values()]})
    rows = parse_events(parse_bronze_lines(split_lines(frame))).collect()
    by_line = {row["bronze_line"]: row for row in rows}
    return {name: by_line[number] for number, name in enumerate(CASES, start=1)}


@pytest.mark.parametrize("case", list(CASES))
def test_each_input_class_gets_its_reason(parsed, case):
    _, reason, detail = CASES[case]
    row = parsed[case]
    assert row["reason"] == reason, (case, row["detail"])
    if detail is not None:
        assert row["detail"] == detail


def test_every_line_keeps_its_object_key_line_and_payload(parsed):
    assert [row["bronze_line"] for row in parsed.values()] == list(range(1, len(CASES) + 1))
    assert {row["bronze_key"] for row in parsed.values()} == {KEY}
    assert parsed["broken JSON"]["payload"] == '{"event_id": "a", "lines": ['
    assert parsed["not a bronze line"]["payload"] == "garbage that ingestion never writes"
    oversize = parsed["oversize aggregate kept whole by ingestion"]
    assert oversize["payload_encoding"] == "base64"
    assert base64.b64decode(oversize["payload"]) == KEPT_WHOLE
    assert parsed["not UTF-8"]["payload_encoding"] == "base64"
    assert str(parsed["valid sale, unknown fields"]["ingest_date"]) == "2026-11-22"


def test_values_are_normalised(parsed):
    row = parsed["valid sale, unknown fields"]
    assert row["event_id"] == EVENT_ID.lower()
    assert row["store_id"] == "S001"
    assert row["event_time"] == datetime(2026, 11, 22, 6, 0, 0, 250000)  # UTC, from +02:00
    line = row["sale_v1"]["lines"][0]
    assert (line["quantity"], line["unit_price"], line["discount"]) == (2, Decimal("1.50"), Decimal("0.00"))
    assert row["delivery_v1"] is None


def test_promotion_values_are_normalised(parsed):
    promotion = parsed["valid promotion"]["promotion_v1"]
    assert promotion["skus"] == ["SKU-1", "SKU-2"]
    assert (promotion["first_day"], promotion["store_ids"]) == (date(2026, 11, 29), None)
    assert parsed["valid promotion"]["store_id"] is None
    order = parsed["valid purchase order"]["purchase_order_v1"]
    assert order["expected_at"] == datetime(2026, 11, 24, 6, 0)


def test_split_lines_numbers_from_one_and_skips_blank_lines(local_spark):
    frame = local_spark.createDataFrame([("k", "a\n\nb\n")], "bronze_key string, text string")
    assert [(row["bronze_line"], row["line"]) for row in split_lines(frame).collect()] == [(1, "a"), (3, "b")]
