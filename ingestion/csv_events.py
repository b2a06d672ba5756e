"""A store's POS journal (CSV, `lakehouse.contracts.pos_csv`) to the sale events the stream carries.

Pure: bytes in, events or a rejection out; the S3 and PostgreSQL side is `csv_landing.py`.

Two kinds of fault, two answers:

- a file that cannot be read as a journal (empty, not UTF-8, not CSV, a header that is not
  the journal's) is rejected whole, with one reason: nothing from it is loaded, because the
  rows of a file whose columns are unknown cannot be trusted one by one;
- a readable row with bad values (a quantity of "two", a blank SKU, an unknown store) becomes an
  event all the same, and silver quarantines it with its reason, exactly as it would the same
  fault in a streamed event. The values go into the event as written: digits become JSON
  integers where the contract has integers, anything else stays text, and silver's checks say
  what is wrong.

Each row becomes one sale event with one line, whose event_id is derived from the line's name
(store_id, basket_id, line_number): the same line uploaded again, in the same file or in a
corrected one, is the same event, so silver's dedup by event_id can never count it twice. A
streamed basket is one event with several lines; a journal basket is several events sharing
its basket_id, so per-basket views (sizes, cross-sell) see the same baskets.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass

from lakehouse.contracts.events import SALE, SCHEMA_VERSION
from lakehouse.contracts.pos_csv import COLUMNS, ENCODING

EMPTY = "empty"
ENCODING_ERROR = "encoding"
NOT_CSV = "not_csv"
WRONG_HEADER = "wrong_header"
REJECTIONS = {
    EMPTY: "the file holds no journal rows",
    ENCODING_ERROR: "the file is not UTF-8 text",
    NOT_CSV: "the file is not comma-separated text with one value per column on every row",
    WRONG_HEADER: "the first row does not name exactly the journal's columns",
}
_INTEGER = re.compile(r"^-?\d{1,18}$")
_BOM = "\ufeff"


class Rejected(ValueError):
    """The file cannot be read as a journal; `reason` is one of REJECTIONS, `detail` says where."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class JournalLine:
    """One row as a sale event: its 1-based row number in the file (header is row 1)."""

    row: int
    store_id: str
    event_id: str
    payload: bytes


def line_event_id(store_id: str, basket_id: str, line_number: str) -> str:
    """A UUID (version-4 shaped, as the contract's ids are) derived from the line's name alone."""
    digest = hashlib.sha256(f"pos_csv\x1f{store_id}\x1f{basket_id}\x1f{line_number}".encode()).digest()
    bits = int.from_bytes(digest[:16], "big")
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _integer_or_text(value: str) -> int | str | None:
    value = value.strip()
    if not value:
        return None
    return int(value) if _INTEGER.match(value) else value


def _text(value: str) -> str | None:
    value = value.strip()
    return value or None


def sale_payload(values: dict[str, str], event_id: str) -> bytes:
    """The sale event of one journal row, compact ASCII JSON like the producer's."""
    document = {
        "event_id": event_id,
        "event_type": SALE,
        "schema_version": SCHEMA_VERSION,
        "event_time": _text(values["time"]),
        "store_id": _text(values["store_id"]),
        "basket_id": _text(values["basket_id"]),
        "payment_method": _text(values["payment_method"]),
        "loyalty_id": _text(values["loyalty_id"]),
        "lines": [
            {
                "line_number": _integer_or_text(values["line_number"]),
                "sku": _text(values["sku"]),
                "quantity": _integer_or_text(values["quantity"]),
                "unit_price": _text(values["unit_price"]),
                "discount": _text(values["discount"]),
                "promotion_id": None,
            }
        ],
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _decode(body: bytes) -> str:
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise Rejected(ENCODING_ERROR, "UTF-16 text (byte-order mark): save the file as UTF-8")
    if b"\x00" in body:
        line = body[: body.index(b"\x00")].count(b"\n") + 1
        raise Rejected(NOT_CSV, f"binary content: a NUL byte on line {line}")
    try:
        text = body.decode(ENCODING)
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        raise Rejected(ENCODING_ERROR, f"byte {error.start} (line {line}) is not UTF-8") from None
    text = text.removeprefix(_BOM)
    if not text.strip():
        raise Rejected(EMPTY, f"{len(body)} bytes and no header")
    return text


def _header(row: list[str]) -> list[str]:
    names = [name.strip() for name in row]
    missing = [name for name in COLUMNS if name not in names]
    unknown = [name for name in names if name not in COLUMNS]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if missing or unknown or repeated:
        parts = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(repr(n) for n in unknown)}" if unknown else "",
            f"repeated {', '.join(repeated)}" if repeated else "",
        ]
        raise Rejected(
            WRONG_HEADER, "; ".join(part for part in parts if part) + f" (expected {','.join(COLUMNS)})"
        )
    return names


def read_journal(body: bytes) -> list[JournalLine]:
    """Every row of a journal file as a sale event, in file order; Rejected if the file is unreadable."""
    reader = csv.reader(io.StringIO(_decode(body), newline=""), strict=True)
    try:
        rows = list(reader)
    except csv.Error as error:
        raise Rejected(NOT_CSV, f"line {reader.line_num}: {error}") from None
    names = _header(rows[0])
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue  # a blank line (a trailing newline too many) is no row
        if len(row) != len(names):
            raise Rejected(NOT_CSV, f"row {number} has {len(row)} values for {len(names)} columns")
        values = dict(zip(names, row, strict=True))
        store_id = values["store_id"].strip()
        event_id = line_event_id(store_id, values["basket_id"].strip(), values["line_number"].strip())
        lines.append(JournalLine(number, store_id, event_id, sale_payload(values, event_id)))
    if not lines:
        raise Rejected(EMPTY, "a header and no rows")
    return lines
