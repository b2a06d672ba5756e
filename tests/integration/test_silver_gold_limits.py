"""Silver is at least as strict as gold: every line silver accepts loads into gold (issue 16).

A line gold refuses (a line number 0, a net amount that overflows) fails the whole load, gold's
watermark stays where it was, and every later load fails on the same line. So this test reads
gold's constraints from its migrations, holds silver's declared limits to them, then sends values
at each limit and just past it through silver's parsing and validation: those past a limit are
quarantined with a named reason, and those accepted go through gold's own load (COPY, staging,
merges) into a freshly migrated schema on the real PostgreSQL, and come out there unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from psycopg2 import sql
from pyspark.sql import functions as F

from ingestion.bronze_format import BronzeEvent, to_line
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.locks import stage_lock
from spark_jobs.gold.load import LoadRun, csv_lines, load_gold
from spark_jobs.gold.migrate import MIGRATIONS_DIR
from spark_jobs.gold.staging import DIM_PRODUCT, DIM_STORE, FACT_SALES
from spark_jobs.silver import reasons
from spark_jobs.silver.parse import parse_bronze_lines, parse_events, split_lines
from spark_jobs.silver.schemas import (
    EARLIEST_EVENT_TIME,
    LINE_VALUE_MAX,
    MONEY_MAX,
    PRODUCT_V1,
    SALE_QUANTITY_MAX,
    SALE_V1,
)
from spark_jobs.silver.tables import PRODUCTS, SALES_LINES, STORES, table_rows
from spark_jobs.silver.validate import apply_value_rules
from tests.support import sample_events as se
from tests.support.gold_schemas import migrated_gold

pytestmark = pytest.mark.integration

ARRIVAL = datetime(2026, 11, 22, 6, 1, tzinfo=UTC)
KEY = "raw/pos-events/ingest_date=2026-11-22/ingest_hour=06/shardId-000000000000/1-99.ndjson.gz"
CENT = Decimal("0.01")
SMALLINT = (-32768, 32767)
INTEGER = (-(2**31), 2**31 - 1)


@dataclass(frozen=True)
class GoldColumn:
    """A numeric column of a gold table: its type's range narrowed by its checks."""

    name: str
    low: Decimal | None
    high: Decimal
    step: Decimal  # 1 for integers, 0.01 for numeric(p, 2)
    generated: str | None


def gold_columns(table: str) -> dict[str, GoldColumn]:
    """The numeric columns of `table` as its migration declares them (types, `check`s, generated)."""
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        text = path.read_text()
        found = re.search(rf'create table :"schema"\.{table} \((.*?)\n\);', text, re.S)
        if found:
            break
    else:
        raise AssertionError(f"no migration creates {table}")
    columns = {}
    for line in found.group(1).splitlines():
        match = re.match(r"\s+(\w+)\s+(smallint|integer|bigint|numeric\((\d+), (\d+)\))(.*)", line)
        if not match:
            continue
        name, kind, precision, scale, rest = match.groups()
        if kind.startswith("numeric"):
            step = Decimal(1).scaleb(-int(scale))
            high = Decimal(10) ** (int(precision) - int(scale)) - step
            low = -high
        else:
            step = Decimal(1)
            low, high = (Decimal(v) for v in (SMALLINT if kind == "smallint" else INTEGER))
            if kind == "bigint":
                low, high = Decimal(-(2**63)), Decimal(2**63 - 1)
        check = re.search(rf"check \({name} (>=|>) (\d+)\)", rest)
        if check:
            low = Decimal(check.group(2)) + (step if check.group(1) == ">" else 0)
        generated = re.search(r"generated always as \((.*)\) stored", rest)
        columns[name] = GoldColumn(name, low, high, step, generated.group(1) if generated else None)
    return columns


FACT_SALES_COLUMNS = gold_columns("fact_sales")
DIM_PRODUCT_COLUMNS = gold_columns("dim_product")


def _silver_limits(schema, name: str) -> tuple[Decimal, Decimal]:
    """(minimum, maximum) silver declares for a field of an event or of its lines."""
    fields = list(schema.struct.fields)
    if schema.line_field is not None:
        fields += list(schema.line_field.dataType.elementType.fields)
    declared = next(f for f in fields if f.name == name)
    return Decimal(str(declared.metadata["minimum"])), Decimal(str(declared.metadata["maximum"]))


def test_every_numeric_constraint_of_fact_sales_is_one_silver_covers():
    """A new numeric column or check in fact_sales fails here until silver has a limit for it."""
    covered = {
        "line_number",
        "quantity",
        "unit_price",
        "discount",
        "unit_cost",
        "revenue",
        "cost",
        "gross_margin",
        "product_key",  # gold's own identity
        "date_key",  # from dim_date, which gold fills for every staged day
    }
    assert set(FACT_SALES_COLUMNS) == covered
    assert FACT_SALES_COLUMNS["revenue"].generated == "quantity * unit_price - discount"
    assert FACT_SALES_COLUMNS["cost"].generated == "quantity * unit_cost"


@pytest.mark.parametrize("name", ["line_number", "quantity", "unit_price", "discount"])
def test_silver_limits_of_a_sale_line_lie_inside_gold(name):
    gold = FACT_SALES_COLUMNS[name]
    low, high = _silver_limits(SALE_V1, name)
    assert gold.low is not None and low >= gold.low, (name, low, gold.low)
    assert high <= gold.high, (name, high, gold.high)


@pytest.mark.parametrize("name", ["unit_cost", "price"])
def test_silver_limits_of_a_product_lie_inside_gold(name):
    gold = DIM_PRODUCT_COLUMNS[name]
    low, high = _silver_limits(PRODUCT_V1, name)
    assert low >= gold.low and high <= gold.high


def test_the_largest_accepted_line_fits_gold_generated_amounts():
    quantity = Decimal(SALE_QUANTITY_MAX)
    largest_cost = quantity * Decimal(MONEY_MAX)
    assert largest_cost <= FACT_SALES_COLUMNS["cost"].high
    # revenue is at most silver's net_amount limit and, discounts never above the line's value, >= 0
    assert Decimal(LINE_VALUE_MAX) <= FACT_SALES_COLUMNS["revenue"].high
    assert -largest_cost >= FACT_SALES_COLUMNS["gross_margin"].low
    assert Decimal(LINE_VALUE_MAX) <= FACT_SALES_COLUMNS["gross_margin"].high


# --- boundary values through silver, and the accepted ones through gold's load -------------------

LINE_NUMBER = FACT_SALES_COLUMNS["line_number"]
QUANTITY_LOW, _ = _silver_limits(SALE_V1, "quantity")
PRICE_MAX = Decimal(MONEY_MAX)
# The largest whole quantity of the dearest unit whose value silver's net_amount still holds.
AT_LINE_VALUE = int(Decimal(LINE_VALUE_MAX) // PRICE_MAX)
CHEAP, DEAR = "SKU-LIM-CHEAP", "SKU-LIM-DEAR"


def _line(number: int = 1, sku: str = CHEAP, quantity: int = 1, price: Decimal = Decimal("1.00"), discount=0):
    return se.sale_line(number, sku, quantity, f"{Decimal(price):.2f}", f"{Decimal(discount):.2f}")


# name -> (sale line, event time, expected reason); limits come from gold's DDL and silver's schema.
CASES = {
    "line number at gold's minimum": (_line(int(LINE_NUMBER.low)), None, None),
    "line number 0": (_line(int(LINE_NUMBER.low) - 1), None, reasons.LINE_NUMBER_OUT_OF_RANGE),
    "line number -5": (_line(-5), None, reasons.LINE_NUMBER_OUT_OF_RANGE),
    "line number at smallint's maximum": (_line(int(LINE_NUMBER.high)), None, None),
    "line number past smallint": (_line(int(LINE_NUMBER.high) + 1), None, reasons.LINE_NUMBER_OUT_OF_RANGE),
    "line number 40000": (_line(40000), None, reasons.LINE_NUMBER_OUT_OF_RANGE),
    "quantity at its minimum": (_line(quantity=int(QUANTITY_LOW)), None, None),
    "quantity below it": (_line(quantity=int(QUANTITY_LOW) - 1), None, reasons.NON_POSITIVE_QUANTITY),
    "quantity at its maximum": (_line(quantity=SALE_QUANTITY_MAX), None, None),
    "quantity past it": (_line(quantity=SALE_QUANTITY_MAX + 1), None, reasons.QUANTITY_OUT_OF_RANGE),
    "price at its maximum": (_line(price=PRICE_MAX), None, None),
    "price a cent past it": (_line(price=PRICE_MAX + CENT), None, reasons.AMOUNT_OUT_OF_RANGE),
    "price at numeric(12, 2)'s maximum": (
        _line(price=FACT_SALES_COLUMNS["unit_price"].high),
        None,
        reasons.AMOUNT_OUT_OF_RANGE,
    ),
    "price zero": (_line(price=Decimal(0)), None, None),
    "discount a cent below zero": (_line(discount=-CENT), None, reasons.NEGATIVE_PRICE),
    "discount at the line's value": (_line(quantity=3, price=Decimal("2.50"), discount="7.50"), None, None),
    "discount a cent past it": (
        _line(quantity=3, price=Decimal("2.50"), discount="7.51"),
        None,
        reasons.DISCOUNT_ABOVE_LINE_VALUE,
    ),
    "discount at its maximum": (_line(price=PRICE_MAX, discount=PRICE_MAX), None, None),
    "line value at net_amount's maximum": (_line(quantity=AT_LINE_VALUE, price=PRICE_MAX), None, None),
    "line value past it": (
        _line(quantity=AT_LINE_VALUE + 1, price=PRICE_MAX),
        None,
        reasons.AMOUNT_OUT_OF_RANGE,
    ),
    "cost at its largest": (_line(sku=DEAR, quantity=SALE_QUANTITY_MAX, price=CENT), None, None),
    "event time at the earliest": (_line(), EARLIEST_EVENT_TIME, None),
    "event time a millisecond before": (
        _line(),
        EARLIEST_EVENT_TIME - timedelta(milliseconds=1),
        reasons.EVENT_TIME_TOO_EARLY,
    ),
}


def _bronze_text(events: list[dict]) -> str:
    lines = []
    for number, event in enumerate(events, start=1):
        bronze = BronzeEvent(
            "pos-events", "shardId-000000000000", str(number), 0, "S001", ARRIVAL, se.payload(event)
        )
        lines.append(to_line(bronze, ARRIVAL).decode("utf-8"))
    return "".join(lines)


@pytest.fixture(scope="module")
def silver(spark) -> Iterator[dict]:
    """The cases, a store and two products through silver: each case's row, and the table rows."""
    references = [
        se.store_event("S-LIM"),
        se.product_event(CHEAP, "1.00", unit_cost="0.50"),
        se.product_event(DEAR, MONEY_MAX, unit_cost=MONEY_MAX),
    ]
    sales = [
        se.sale_event("S-LIM", [line], when=when or ARRIVAL - timedelta(hours=1))
        for line, when, _ in CASES.values()
    ]
    frame = spark.createDataFrame(
        [(KEY, _bronze_text([*references, *sales]))], "bronze_key string, text string"
    )
    classified = apply_value_rules(parse_events(parse_bronze_lines(split_lines(frame))), 300).cache()
    by_line = {row["bronze_line"]: row for row in classified.collect()}
    loaded_at = F.lit(ARRIVAL).cast("timestamp")
    tables = {spec.name: table_rows(classified, spec, loaded_at) for spec in (STORES, PRODUCTS, SALES_LINES)}
    yield {
        "cases": {name: by_line[len(references) + index] for index, name in enumerate(CASES, start=1)},
        "references": [by_line[number] for number in range(1, len(references) + 1)],
        "tables": tables,
    }
    classified.unpersist()


@pytest.mark.parametrize("case", list(CASES))
def test_a_value_past_a_limit_is_quarantined_with_its_reason(silver, case):
    row = silver["cases"][case]
    assert row["reason"] == CASES[case][2], (case, row["detail"])


def test_the_store_and_the_dearest_product_are_accepted(silver):
    assert [row["reason"] for row in silver["references"]] == [None, None, None]


def test_every_accepted_line_has_its_net_amount(silver):
    rows = silver["tables"][SALES_LINES.name].collect()
    accepted = [name for name, (_, _, reason) in CASES.items() if reason is None]
    assert len(rows) == len(accepted)
    for row in rows:
        assert row["net_amount"] == row["quantity"] * row["unit_price"] - row["discount"], row


@pytest.fixture
def gold_schema(postgres: Settings) -> Iterator[str]:
    with migrated_gold(postgres, "gold_lim") as schema:
        yield schema


def test_every_accepted_line_loads_into_gold_unchanged(silver, postgres: Settings, gold_schema: str):
    tables = silver["tables"]
    stores = tables[STORES.name].withColumnsRenamed(
        {"name": "store_name", "size": "store_size", "event_time": "snapshot_at"}
    )
    products = (
        tables[PRODUCTS.name]
        .withColumnRenamed("name", "product_name")
        .withColumn("valid_from", F.lit(None).cast("timestamp"))
        .withColumn("valid_to", F.lit(None).cast("timestamp"))
    )
    sales = tables[SALES_LINES.name].withColumnRenamed("event_time", "sold_at")
    staged = {
        DIM_STORE.name: list(csv_lines(stores.select(*DIM_STORE.column_names), DIM_STORE.name)),
        DIM_PRODUCT.name: list(csv_lines(products.select(*DIM_PRODUCT.column_names), DIM_PRODUCT.name)),
        FACT_SALES.name: list(csv_lines(sales.select(*FACT_SALES.column_names), FACT_SALES.name)),
    }
    now = datetime.now(UTC)
    run = LoadRun(
        as_of=ARRIVAL, window_start=date(2000, 1, 1), mode="full", started_at=now, overstock_cover_days=60
    )
    with stage_lock(postgres, "gold", gold_schema):
        result = load_gold(postgres, gold_schema, staged, run)
    assert result.rows.fact_sales_inserted == len(staged[FACT_SALES.name])
    with connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "select event_id::text, line_number, quantity, unit_price, discount, revenue, cost"
                " from {}.fact_sales"
            ).format(sql.Identifier(gold_schema))
        )
        in_gold = {row[0]: row[1:] for row in cursor.fetchall()}
    expected = {}
    for row in sales.collect():
        cost = Decimal(MONEY_MAX) if row["sku"] == DEAR else Decimal("0.50")
        revenue = row["quantity"] * row["unit_price"] - row["discount"]
        expected[row["event_id"]] = (
            row["line_number"],
            row["quantity"],
            row["unit_price"],
            row["discount"],
            revenue,
            row["quantity"] * cost,
        )
    assert in_gold == expected
