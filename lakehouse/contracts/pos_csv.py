"""The POS journal as CSV: what a store whose tills cannot stream uploads once a day.

A file is one store's business day: UTF-8 text (a byte-order mark is allowed), comma-separated,
a header row naming exactly `COLUMNS` (in any order), then one row per basket line, the values
as the `sale` event carries them (`lakehouse/contracts/__init__.py`):

    time,store_id,basket_id,line_number,sku,quantity,unit_price,discount,payment_method,loyalty_id
    2024-01-02T09:15:30.123Z,S003,5f0c...,1,SKU-00042,2,3.49,0.00,card,L00300042

`time` is UTC ISO-8601 with milliseconds and Z, money has two decimals, `loyalty_id` is empty for
an anonymous shopper. A line's promotion is not in the journal (its discount is). A line is named
by (store_id, basket_id, line_number): uploading a line again, in the same file or a corrected
one, names the same line. Stores upload to `s3://<bronze bucket>/landing/pos_csv/`; the
producer writes such files (`python -m producer --csv-out DIR`) and ingestion reads them
(`ingestion/csv_events.py`).
"""

from __future__ import annotations

COLUMNS = (
    "time",
    "store_id",
    "basket_id",
    "line_number",
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "payment_method",
    "loyalty_id",
)
ENCODING = "utf-8"


def sale_rows(sale: dict) -> list[list[str]]:
    """The journal rows of one `sale` event document, one per line, in COLUMNS order."""
    return [
        [
            str(sale["event_time"]),
            str(sale["store_id"]),
            str(sale["basket_id"]),
            str(line["line_number"]),
            str(line["sku"]),
            str(line["quantity"]),
            str(line["unit_price"]),
            str(line["discount"]),
            str(sale["payment_method"]),
            sale["loyalty_id"] or "",
        ]
        for line in sale["lines"]
    ]


def file_name(store_id: str, day: str) -> str:
    """The name a store's journal of `day` (YYYY-MM-DD, store-local) is uploaded under."""
    return f"pos_{store_id}_{day}.csv"
