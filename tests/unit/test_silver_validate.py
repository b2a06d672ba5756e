"""Validation rules, reference checks and duplicates: each bad-input class gets its reason code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spark_jobs.silver import reasons
from spark_jobs.silver.frames import materialise
from spark_jobs.silver.parse import parse_bronze_lines, parse_events, split_lines
from spark_jobs.silver.validate import (
    apply_value_rules,
    apply_verdicts,
    batch_references,
    changed_lines,
    check_columns,
    check_references,
    keep_settled,
    mark_duplicate_promotions,
    mark_duplicates,
)
from tests.support import sample_events as se

pytestmark = pytest.mark.unit

KEY = "raw/pos-events/ingest_date=2026-11-22/ingest_hour=06/shardId-000000000000/1-40.ndjson.gz"
OTHER_KEY = "raw/pos-events/ingest_date=2026-11-21/ingest_hour=23/shardId-000000000000/1-9.ndjson.gz"
ARRIVAL = se.T0 + timedelta(minutes=1)  # the conftest's bronze arrival time
TOLERANCE_SECONDS = 300


def _sale(*lines: dict, **changes) -> dict:
    return se.sale_event("S001", list(lines) or [se.sale_line(1, "SKU-1")], **changes)


REPEATED = _sale()
IN_SILVER_ELSEWHERE = _sale()
IN_SILVER_HERE = _sale()
SETTLED = _sale()
PROMOTED = se.promotion_event("PR-00001-01", ["SKU-1", "SKU-2"])
ANNOUNCED_IN_SILVER = se.promotion_event("PR-00001-02", ["SKU-1"])

# name -> (event, expected reason)
CASES = {
    "valid sale": (_sale(se.sale_line(1, "SKU-1", 3), se.sale_line(2, "SKU-2")), None),
    "zero quantity": (_sale(se.sale_line(1, "SKU-1", 0)), reasons.NON_POSITIVE_QUANTITY),
    "negative delivery": (se.delivery_event("S001", [("SKU-1", -2)]), reasons.NON_POSITIVE_QUANTITY),
    "negative count": (se.stock_count_event("S001", [("SKU-1", -1)]), reasons.NEGATIVE_QUANTITY),
    "zero count is a real empty shelf": (se.stock_count_event("S001", [("SKU-1", 0)]), None),
    "negative unit price": (_sale(se.sale_line(1, "SKU-1", 1, "-1.00")), reasons.NEGATIVE_PRICE),
    "negative discount": (_sale(se.sale_line(1, "SKU-1", 1, "1.00", "-0.50")), reasons.NEGATIVE_PRICE),
    "negative product price": (se.product_event("SKU-3", "-2.00"), reasons.NEGATIVE_PRICE),
    "zero lead time": (se.product_event("SKU-4", lead_time_days=0), reasons.OUT_OF_RANGE),
    "repeated line number": (
        _sale(se.sale_line(1, "SKU-1"), se.sale_line(1, "SKU-2")),
        reasons.DUPLICATE_LINE_NUMBER,
    ),
    "ten minutes in the future": (_sale(when=ARRIVAL + timedelta(minutes=10)), reasons.EVENT_TIME_IN_FUTURE),
    "two minutes ahead, within tolerance": (_sale(when=ARRIVAL + timedelta(minutes=2)), None),
    "three days late": (_sale(when=se.T0 - timedelta(days=3)), None),
    "unknown store": (se.sale_event("S999", [se.sale_line(1, "SKU-1")]), reasons.UNKNOWN_STORE),
    "store from this batch": (se.store_event("S777"), None),
    "sale at the batch's store": (se.sale_event("S777", [se.sale_line(1, "SKU-1")]), None),
    "unknown sku": (_sale(se.sale_line(1, "SKU-1"), se.sale_line(2, "SKU-99999")), reasons.UNKNOWN_SKU),
    "product from this batch": (se.product_event("SKU-00077"), None),
    "sale of the batch's product": (_sale(se.sale_line(1, "SKU-00077")), None),
    "unknown sku in a count": (se.stock_count_event("S001", [("SKU-404", 1)]), reasons.UNKNOWN_SKU),
    "first copy": (REPEATED, None),
    "second copy": (REPEATED, reasons.DUPLICATE_EVENT_ID),
    "in silver from another line": (IN_SILVER_ELSEWHERE, reasons.DUPLICATE_EVENT_ID),
    "in silver from this very line": (IN_SILVER_HERE, None),
    "already quarantined": (SETTLED, reasons.UNKNOWN_SKU),
    "valid purchase order": (se.purchase_order_event("S001", [("SKU-1", 6), ("SKU-2", 1)]), None),
    "order quantity zero": (se.purchase_order_event("S001", [("SKU-1", 0)]), reasons.NON_POSITIVE_QUANTITY),
    "expected before ordered": (
        se.purchase_order_event("S001", [("SKU-1", 3)], expected_at="2026-11-21T07:00:00.000Z"),
        reasons.EXPECTED_BEFORE_ORDERED,
    ),
    "order at an unknown store": (se.purchase_order_event("S404", [("SKU-1", 3)]), reasons.UNKNOWN_STORE),
    "order of an unknown sku": (se.purchase_order_event("S001", [("SKU-404", 3)]), reasons.UNKNOWN_SKU),
    "valid promotion": (PROMOTED, None),
    "promotion ends before it starts": (
        se.promotion_event("PR-9", ["SKU-1"], first_day="2026-11-29", last_day="2026-11-28"),
        reasons.PROMOTION_ENDS_BEFORE_START,
    ),
    "discount zero": (
        se.promotion_event("PR-10", ["SKU-1"], discount_percent=0),
        reasons.DISCOUNT_OUT_OF_RANGE,
    ),
    "discount 95": (
        se.promotion_event("PR-11", ["SKU-1"], discount_percent=95),
        reasons.DISCOUNT_OUT_OF_RANGE,
    ),
    "promotion repeats a sku": (
        se.promotion_event("PR-12", ["SKU-1", "SKU-1"]),
        reasons.DUPLICATE_LINE_NUMBER,
    ),
    "promotion of an unknown sku": (se.promotion_event("PR-13", ["SKU-1", "SKU-405"]), reasons.UNKNOWN_SKU),
    "promotion at an unknown store": (
        se.promotion_event("PR-14", ["SKU-1"], store_id="S001", store_ids=["S001", "S406"]),
        reasons.UNKNOWN_STORE,
    ),
    "promotion at known stores": (
        se.promotion_event("PR-15", ["SKU-1"], store_id="S001", store_ids=["S001"]),
        None,
    ),
    "same promotion_id, other content": (
        se.promotion_event("PR-00001-01", ["SKU-2"], discount_percent=30),
        reasons.DUPLICATE_PROMOTION_ID,
    ),
    "broken copy of a promotion": (
        se.promotion_event("PR-00001-01", ["SKU-406"]),
        reasons.UNKNOWN_SKU,
    ),
    "exact resend of a promotion": (PROMOTED, reasons.DUPLICATE_EVENT_ID),
    "promotion_id already in silver": (
        se.promotion_event("PR-00001-02", ["SKU-1"]),
        reasons.DUPLICATE_PROMOTION_ID,
    ),
    "silver's own promotion reprocessed": (ANNOUNCED_IN_SILVER, None),
    # Gold's limits (issue 16): each at its boundary and just past it.
    "line number 0": (_sale(se.sale_line(0, "SKU-1")), reasons.LINE_NUMBER_OUT_OF_RANGE),
    "line number -5": (_sale(se.sale_line(-5, "SKU-1")), reasons.LINE_NUMBER_OUT_OF_RANGE),
    "line number 40000": (_sale(se.sale_line(40000, "SKU-1")), reasons.LINE_NUMBER_OUT_OF_RANGE),
    "line number 32767": (_sale(se.sale_line(32767, "SKU-1")), None),
    "delivery line number 0": (
        se.delivery_event("S001", [("SKU-1", 2)], lines=[{"line_number": 0, "sku": "SKU-1", "quantity": 2}]),
        reasons.LINE_NUMBER_OUT_OF_RANGE,
    ),
    "sale quantity 10001": (_sale(se.sale_line(1, "SKU-1", 10001, "0.01")), reasons.QUANTITY_OUT_OF_RANGE),
    "count of a million and one": (
        se.stock_count_event("S001", [("SKU-1", 1_000_001)]),
        reasons.QUANTITY_OUT_OF_RANGE,
    ),
    "unit price 100000000.00": (
        _sale(se.sale_line(1, "SKU-1", 1, "100000000.00")),
        reasons.AMOUNT_OUT_OF_RANGE,
    ),
    "line worth more than net_amount holds": (
        _sale(se.sale_line(1, "SKU-1", 10000, "1000000.00")),
        reasons.AMOUNT_OUT_OF_RANGE,
    ),
    "discount above the line's value": (
        _sale(se.sale_line(1, "SKU-1", 2, "1.00", "2.01")),
        reasons.DISCOUNT_ABOVE_LINE_VALUE,
    ),
    "discount equal to the line's value": (_sale(se.sale_line(1, "SKU-1", 2, "1.00", "2.00")), None),
    "sale in 1999": (
        _sale(when=datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        reasons.EVENT_TIME_TOO_EARLY,
    ),
    "sale at the turn of 2000": (_sale(when=datetime(2000, 1, 1, tzinfo=UTC)), None),
}
LINE = {name: number for number, name in enumerate(CASES, start=1)}


@pytest.fixture(scope="module")
def classified(local_spark, bronze_objects) -> dict:
    frame = bronze_objects({KEY: [event for event, _ in CASES.values()]})
    parsed = materialise(
        apply_value_rules(parse_events(parse_bronze_lines(split_lines(frame))), TOLERANCE_SECONDS)
    )
    batch_stores, batch_skus = batch_references(parsed)
    known_stores = local_spark.createDataFrame([("S001",)], "store_id string").unionByName(batch_stores)
    known_skus = local_spark.createDataFrame([("SKU-1",), ("SKU-2",)], "sku string").unionByName(batch_skus)
    existing = local_spark.createDataFrame(
        [
            (IN_SILVER_ELSEWHERE["event_id"], OTHER_KEY, 4),
            (IN_SILVER_HERE["event_id"], KEY, LINE["in silver from this very line"]),
            (ANNOUNCED_IN_SILVER["event_id"], KEY, LINE["silver's own promotion reprocessed"]),
        ],
        "event_id string, bronze_key string, bronze_line int",
    )
    announced = local_spark.createDataFrame(
        [("PR-00001-02", ANNOUNCED_IN_SILVER["event_id"])], "promotion_id string, event_id string"
    )
    quarantined = local_spark.createDataFrame(
        [(KEY, LINE["already quarantined"], reasons.UNKNOWN_SKU, "sku SKU-X")],
        "bronze_key string, bronze_line int, reason string, detail string",
    )
    referenced = check_references(check_columns(parsed), known_stores, known_skus)
    checked = keep_settled(
        mark_duplicate_promotions(mark_duplicates(referenced, existing), announced), quarantined
    )
    rows = apply_verdicts(parsed, changed_lines(checked)).collect()
    assert len(rows) == len(CASES), "a validation step lost or duplicated lines"
    by_line = {row["bronze_line"]: row for row in rows}
    return {name: by_line[LINE[name]] for name in CASES}


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_gives_its_reason(classified, case):
    row = classified[case]
    assert row["reason"] == CASES[case][1], (case, row["detail"])


def test_details_name_what_was_wrong(classified):
    assert classified["zero quantity"]["detail"] == "lines[].quantity < 1"
    assert classified["unknown store"]["detail"] == "store_id S999"
    assert classified["unknown sku"]["detail"] == "sku SKU-99999"
    assert classified["second copy"]["detail"] == "repeats an earlier line of this batch"
    assert classified["in silver from another line"]["detail"] == f"already in silver from {OTHER_KEY}:4"
    assert classified["already quarantined"]["detail"] == "sku SKU-X"
    assert classified["discount 95"]["detail"] == "discount_percent > 90"
    assert classified["line number 40000"]["detail"] == "lines[].line_number > 32767"
    assert classified["unit price 100000000.00"]["detail"] == "lines[].unit_price > 99999999.99"
    assert classified["sale in 1999"]["detail"] == "event_time is before 2000-01-01T00:00:00Z"
    assert classified["expected before ordered"]["detail"] == "expected_at < ordered_at"
    assert classified["promotion at an unknown store"]["detail"] == "store_id S406"
    assert classified["same promotion_id, other content"]["detail"] == (
        "promotion_id PR-00001-01 announced by an earlier line of this batch"
    )
    assert classified["promotion_id already in silver"]["detail"] == (
        f"promotion_id PR-00001-02 already announced by event {ANNOUNCED_IN_SILVER['event_id']}"
    )


def test_the_earlier_line_of_a_duplicate_wins(classified):
    first, second = classified["first copy"], classified["second copy"]
    assert first["event_id"] == second["event_id"]
    assert first["bronze_line"] < second["bronze_line"]
