"""POS journal CSV to sale events: the rejected-file classes, values as written, ids from the line's name."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ingestion.csv_events import (
    EMPTY,
    ENCODING_ERROR,
    NOT_CSV,
    WRONG_HEADER,
    Rejected,
    line_event_id,
    read_journal,
)
from lakehouse.contracts.pos_csv import COLUMNS, sale_rows

pytestmark = pytest.mark.unit

BASKET = "5ebf919a-c584-4c1d-87e3-3aec223832cb"
SALE = {
    "event_id": "0e95bd81-d905-4f40-bedf-eeb07f2b8e25",
    "event_type": "sale",
    "schema_version": 1,
    "event_time": "2024-01-01T14:04:09.991Z",
    "store_id": "S002",
    "basket_id": BASKET,
    "payment_method": "card",
    "loyalty_id": None,
    "lines": [
        {"line_number": 1, "sku": "SKU-00005", "quantity": 3, "unit_price": "1.40", "discount": "0.00",
         "promotion_id": None},
        {"line_number": 2, "sku": "SKU-00008", "quantity": 1, "unit_price": "3.24", "discount": "0.30",
         "promotion_id": "p1"},
    ],
}  # fmt: skip


def journal(rows: list[list[str]], header=COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def test_each_row_is_a_sale_event_with_the_values_of_the_stream():
    lines = read_journal(journal(sale_rows(SALE)))
    assert [line.row for line in lines] == [2, 3]
    first, second = (json.loads(line.payload) for line in lines)
    assert first["lines"] == [{**SALE["lines"][0]}]
    assert second["lines"] == [{**SALE["lines"][1], "promotion_id": None}]  # the journal has no promotion
    for name in ("event_type", "schema_version", "event_time", "store_id", "basket_id", "payment_method"):
        assert first[name] == SALE[name]
    assert first["loyalty_id"] is None
    assert first["event_id"] == line_event_id("S002", BASKET, "1") != second["event_id"]


def test_the_event_id_names_the_line_not_its_values():
    rows = sale_rows(SALE)
    corrected = [row.copy() for row in rows]
    corrected[0][5] = "4"  # quantity
    corrected[0][1] = " S002 "  # spacing is no new line
    before, after = read_journal(journal(rows)), read_journal(journal(corrected))
    assert [line.event_id for line in before] == [line.event_id for line in after]
    assert before[0].payload != after[0].payload and before[1].payload == after[1].payload


def test_bad_values_go_on_as_written_for_silver_to_quarantine():
    row = sale_rows(SALE)[0]
    row[5], row[4], row[6] = "two", "", "1,40"
    (line,) = read_journal(journal([row]))
    document = json.loads(line.payload)["lines"][0]
    assert document["quantity"] == "two"  # silver: wrong_type
    assert document["sku"] is None  # silver: missing_field
    assert document["unit_price"] == "1,40"  # silver: wrong_type


def test_columns_in_another_order_and_a_byte_order_mark_are_read():
    header = list(reversed(COLUMNS))
    rows = [list(reversed(row)) for row in sale_rows(SALE)]
    body = "\ufeff".encode() + journal(rows, header)
    assert [line.payload for line in read_journal(body)] == [
        line.payload for line in read_journal(journal(sale_rows(SALE)))
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", EMPTY),
        (b"\n\n", EMPTY),
        (journal([]), EMPTY),
        ("time;store_id\n".encode("utf-16"), ENCODING_ERROR),
        (journal(sale_rows(SALE)).replace(b"S002", b"S\xe9002", 1), ENCODING_ERROR),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", NOT_CSV),
        (journal(sale_rows(SALE)) + b"2024-01-01T14:04:09.991Z,S002\n", NOT_CSV),
        (journal(sale_rows(SALE)) + b'"unclosed,quote\n', NOT_CSV),
        (journal(sale_rows(SALE), [*COLUMNS[:-1], "loyalty"]), WRONG_HEADER),
        (journal(sale_rows(SALE), COLUMNS[:-1]), WRONG_HEADER),
        (json.dumps(SALE).encode(), WRONG_HEADER),
    ],
    ids=[
        "zero-bytes", "blank", "header-only", "utf-16", "latin-1", "binary", "ragged", "open-quote",
        "renamed-column", "missing-column", "json",
    ],
)  # fmt: skip
def test_unreadable_files_are_rejected_whole_with_one_reason(body: bytes, reason: str):
    with pytest.raises(Rejected) as rejected:
        read_journal(body)
    assert rejected.value.reason == reason, rejected.value
