"""Silver table rows from classified events, the quarantine rows, and insert-only MERGE on local Delta."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from spark_jobs.gold import silver_contract
from spark_jobs.session import AUTO_COMPACT_MIN_FILES
from spark_jobs.silver import reasons
from spark_jobs.silver.frames import materialise
from spark_jobs.silver.parse import parse_bronze_lines, parse_events, split_lines
from spark_jobs.silver.tables import (
    DELIVERIES,
    EVENT_TABLES,
    PRODUCTS,
    PROMOTIONS,
    PURCHASE_ORDERS,
    QUARANTINE_SCHEMA,
    SALES_LINES,
    STOCK_COUNTS,
    ensure_table,
    latest_snapshots,
    merge_rows,
    partition_filter,
    quarantine_rows,
    table_rows,
    table_schema,
)
from tests.support import sample_events as se

pytestmark = pytest.mark.unit

KEY = "raw/pos-events/ingest_date=2026-11-22/ingest_hour=06/shardId-000000000000/1-9.ndjson.gz"
LATE = se.T0 - timedelta(days=2)
SALE = se.sale_event(
    "S001", [se.sale_line(1, "SKU-1", 3, "2.00", "0.50"), se.sale_line(2, "SKU-2", 1, "1.25")]
)
EVENTS = [
    SALE,
    se.sale_event("S001", [se.sale_line(1, "SKU-1")], when=LATE),
    se.delivery_event("S001", [("SKU-1", 10), ("SKU-2", 5)]),
    se.stock_count_event("S001", [("SKU-1", 0)]),
    se.store_event("S001"),
    se.product_event("SKU-1"),
    "not json at all",
    se.purchase_order_event("S001", [("SKU-1", 12), ("SKU-2", 6)]),
    se.promotion_event("PR-00001-01", ["SKU-1", "SKU-2"], store_id="S001", store_ids=["S001", "S002"]),
    se.promotion_event("PR-00001-02", ["SKU-2"]),
]


@pytest.fixture(scope="module")
def events(bronze_objects):
    frame = bronze_objects({KEY: EVENTS})
    return materialise(parse_events(parse_bronze_lines(split_lines(frame))))


@pytest.fixture(scope="module")
def rows(events) -> dict:
    loaded_at = F.lit("2026-11-22 07:00:00").cast("timestamp")
    return {spec.name: table_rows(events, spec, loaded_at).collect() for spec in EVENT_TABLES}


def test_a_basket_becomes_one_row_per_line(rows):
    lines = sorted(
        (r for r in rows["sales_lines"] if r["event_id"] == SALE["event_id"]), key=lambda r: r["line_number"]
    )
    assert [(r["line_number"], r["sku"], r["quantity"]) for r in lines] == [(1, "SKU-1", 3), (2, "SKU-2", 1)]
    assert [r["net_amount"] for r in lines] == [Decimal("5.50"), Decimal("1.25")]
    assert {(r["bronze_key"], r["bronze_line"]) for r in lines} == {(KEY, 1)}
    assert lines[0]["basket_id"] == SALE["basket_id"]


def test_a_late_event_lands_in_its_event_date(rows):
    dates = sorted(r["event_date"] for r in rows["sales_lines"])
    assert dates == [LATE.date(), se.T0.date(), se.T0.date()]


def test_every_table_gets_its_events(rows):
    counts = {name: len(found) for name, found in rows.items()}
    assert counts == {
        "sales_lines": 3,
        "deliveries": 2,
        "stock_counts": 1,
        "stores": 1,
        "products": 1,
        "purchase_orders": 2,
        "promotions": 3,
    }
    assert rows["stock_counts"][0]["counted_quantity"] == 0
    assert rows["products"][0]["price"] == Decimal("2.50")


def test_orders_have_a_row_per_line_and_promotions_a_row_per_sku(rows):
    order = EVENTS[7]
    lines = sorted(rows["purchase_orders"], key=lambda r: r["line_number"])
    assert [(r["line_number"], r["sku"], r["quantity"], r["order_id"]) for r in lines] == [
        (1, "SKU-1", 12, order["order_id"]),
        (2, "SKU-2", 6, order["order_id"]),
    ]
    assert lines[0]["expected_at"] - lines[0]["ordered_at"] == timedelta(days=2)
    promotions = sorted((r["promotion_id"], r["sku"], r["store_ids"]) for r in rows["promotions"])
    assert promotions == [
        ("PR-00001-01", "SKU-1", ["S001", "S002"]),
        ("PR-00001-01", "SKU-2", ["S001", "S002"]),
        ("PR-00001-02", "SKU-2", None),
    ]
    first = rows["promotions"][0]
    assert (first["discount_percent"], first["first_day"], first["last_day"]) == (
        20,
        date(2026, 11, 29),
        date(2026, 12, 5),
    )
    assert first["event_date"] == se.T0.date()


def test_the_contract_columns_of_the_new_tables():
    """The columns the gold engineer codes against (issue 15), in silver's own types."""
    orders = {f.name: f.dataType.simpleString() for f in table_schema(PURCHASE_ORDERS).fields}
    assert {name: orders[name] for name in ("event_id", "line_number", "event_time", "event_date")} == {
        "event_id": "string",
        "line_number": "int",
        "event_time": "timestamp",
        "event_date": "date",
    }
    assert [orders[name] for name in ("store_id", "order_id", "supplier_id", "sku", "quantity")] == [
        "string",
        "string",
        "string",
        "string",
        "int",
    ]
    assert (orders["ordered_at"], orders["expected_at"]) == ("timestamp", "timestamp")
    promotions = {f.name: f.dataType.simpleString() for f in table_schema(PROMOTIONS).fields}
    assert promotions == {
        "event_id": "string",
        "schema_version": "int",
        "event_time": "timestamp",
        "event_date": "date",
        "promotion_id": "string",
        "store_ids": "array<string>",
        "discount_percent": "int",
        "first_day": "date",
        "last_day": "date",
        "sku": "string",
        "bronze_key": "string",
        "bronze_line": "int",
        "arrived_at": "timestamp",
        "loaded_at": "timestamp",
    }
    assert PURCHASE_ORDERS.keys == ("event_id", "line_number") and PROMOTIONS.keys == ("event_id", "sku")
    assert PURCHASE_ORDERS.partition_by == PROMOTIONS.partition_by == "event_date"


def test_rejected_lines_become_quarantine_rows_with_their_payload(events):
    quarantined = quarantine_rows(events, F.current_timestamp()).collect()
    assert [(r["bronze_line"], r["reason"], r["payload"]) for r in quarantined] == [
        (7, reasons.MALFORMED_JSON, "not json at all")
    ]
    assert quarantined[0]["ingest_date"] == date(2026, 11, 22)
    assert list(quarantined[0].asDict()) == QUARANTINE_SCHEMA.fieldNames()


@pytest.mark.parametrize("table", silver_contract.TABLES, ids=lambda table: table.name)
def test_tables_have_the_columns_gold_reads(table):
    spec = next(spec for spec in EVENT_TABLES if spec.name == table.name)
    ours = {f.name: f.dataType for f in table_schema(spec).fields}
    for column in table.columns:
        if column.name in ours:
            assert ours[column.name] == column.kind, column.name
        else:
            assert column.optional, f"{table.name} lacks {column.name}"


def test_keys_and_partitions():
    assert SALES_LINES.keys == DELIVERIES.keys == STOCK_COUNTS.keys == ("event_id", "line_number")
    assert "store_id" not in table_schema(PRODUCTS).fieldNames()
    assert partition_filter("t", "event_date", [date(2026, 11, 22), None]) == (
        "(t.event_date IN ('2026-11-22') OR t.event_date IS NULL)"
    )
    assert partition_filter("t", "event_date", []) == "false"


def test_merge_inserts_new_keys_only(local_spark, events, tmp_path):
    path = str(tmp_path / "sales_lines")
    ensure_table(local_spark, path, table_schema(SALES_LINES), SALES_LINES.partition_by)
    frame = table_rows(events, SALES_LINES, F.current_timestamp())
    dates = [LATE.date(), se.T0.date()]
    assert merge_rows(local_spark, path, frame, SALES_LINES.keys, "event_date", dates) == 3
    assert merge_rows(local_spark, path, frame, SALES_LINES.keys, "event_date", dates) == 0
    assert local_spark.read.format("delta").load(path).count() == 3


def test_latest_snapshot_per_key(local_spark):
    snapshots = local_spark.createDataFrame(
        [("S1", "a", "2026-11-20 00:00:00", "old"), ("S1", "b", "2026-11-21 00:00:00", "new")],
        "store_id string, event_id string, event_time string, name string",
    ).withColumn("event_time", F.col("event_time").cast("timestamp"))
    assert [r["name"] for r in latest_snapshots(snapshots, "store_id").collect()] == ["new"]


def test_small_files_of_a_partition_are_compacted_as_writes_add_them(local_spark, tmp_path):
    """Each run adds a file per partition it writes; reads of the table must not open them all."""
    path = str(tmp_path / "table")
    for run in range(AUTO_COMPACT_MIN_FILES + 2):
        rows = local_spark.createDataFrame([(run, "2026-11-29")], "id int, event_date string")
        rows.write.format("delta").mode("append").partitionBy("event_date").save(path)
    table = DeltaTable.forPath(local_spark, path)
    assert table.detail().first()["numFiles"] < AUTO_COMPACT_MIN_FILES
    assert table.toDF().count() == AUTO_COMPACT_MIN_FILES + 2
