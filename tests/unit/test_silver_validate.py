"""Validation rules, reference checks and duplicates: each bad-input class gets its reason code."""

from __future__ import annotations

from datetime import timedelta

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
        ],
        "event_id string, bronze_key string, bronze_line int",
    )
    quarantined = local_spark.createDataFrame(
        [(KEY, LINE["already quarantined"], reasons.UNKNOWN_SKU, "sku SKU-X")],
        "bronze_key string, bronze_line int, reason string, detail string",
    )
    checked = keep_settled(
        mark_duplicates(check_references(check_columns(parsed), known_stores, known_skus), existing),
        quarantined,
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


def test_the_earlier_line_of_a_duplicate_wins(classified):
    first, second = classified["first copy"], classified["second copy"]
    assert first["event_id"] == second["event_id"]
    assert first["bronze_line"] < second["bronze_line"]
