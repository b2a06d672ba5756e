"""Silver to gold on real Spark, LocalStack S3 and PostgreSQL: build, reconcile, rerun, refresh, fail.

The tests of this module run in order on one silver bucket and one gold schema: the full
build, checks of what it loaded, a rerun that must change nothing, an incremental refresh,
and a failing load that must leave gold as it was.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from psycopg2 import sql
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from lakehouse.config import Settings, read_settings
from lakehouse.db import connect
from lakehouse.resources import ensure_alerts_channel, ensure_bucket
from ops.mage import run_pipeline
from spark_jobs.gold import stock_model as model
from spark_jobs.gold.job import GoldRun, run_silver_to_gold
from spark_jobs.gold.load import LoadError
from spark_jobs.gold.migrate import migrate
from spark_jobs.gold.silver_contract import (
    DELIVERIES,
    PRODUCTS,
    SALES_LINES,
    STOCK_COUNTS,
    STORES,
    SilverTable,
    silver_table_path,
)

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
DAYS = 14
CONFIG = read_settings(env_file=None, environ={}).gold


def _id(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))


def _at(day: int, hour: int) -> datetime:
    return START + timedelta(days=day, hours=hour)


def _sale(
    store: str, day: int, hour: int, lines: list[tuple[str, int, str, str]], loyalty: str | None = None
):
    """Sales line rows of one basket: lines are (sku, quantity, unit price, discount)."""
    event_id, at = _id("sale", store, day, hour), _at(day, hour)
    return [
        (event_id, number, _id("basket", store, day, hour), store, sku, quantity, Decimal(price),
         Decimal(discount), at, at.date(), "card", loyalty)
        for number, (sku, quantity, price, discount) in enumerate(lines, start=1)
    ]  # fmt: skip


def sales_of_day(day: int) -> list[tuple]:
    """S001 sells more of SKU-00001 on Saturdays; S002 sells two a day, with a discount on even days."""
    price = "2.50" if day < 7 else "3.00"
    saturday = (START + timedelta(days=day)).weekday() == 5
    return [
        *_sale(
            "S001",
            day,
            10,
            [("SKU-00001", 6 if saturday else 3, price, "0.00"), ("SKU-00002", 1, "4.00", "0.00")],
        ),
        *_sale("S002", day, 11, [("SKU-00001", 2, price, "0.50" if day % 2 == 0 else "0.00")], "L00000001"),
    ]


def silver_rows() -> dict[str, list[tuple]]:
    sales = [row for day in range(DAYS) for row in sales_of_day(day)]
    store_rows = [
        ("S001", "One", "west", "Reno", "NV", "Ann", "UTC", "small", 400, "08:00", "22:00", START),
        ("S002", "Two", "midwest", "Ames", "IA", "Bob", "UTC", "large", 900, "08:00", "22:00", START),
    ]
    products = [
        ("SKU-00001", "Tea", "drinks", "Leaf", "SUP-01", Decimal("1.00"), Decimal("2.50"), 3, START),
        ("SKU-00001", "Tea", "drinks", "Leaf", "SUP-01", Decimal("1.20"), Decimal("3.00"), 3, _at(7, 0)),
        ("SKU-00002", "Jam", "pantry", "Fruit", "SUP-02", Decimal("2.00"), Decimal("4.00"), 2, START),
    ]
    counts = [
        (_id("count", store, sku), store, sku, quantity, _at(0, 6))
        for store, sku, quantity in (
            ("S001", "SKU-00001", 40),
            ("S001", "SKU-00002", 100),
            ("S002", "SKU-00001", 30),
            ("S002", "SKU-00002", 5),
        )
    ]
    counts.append((_id("cycle", 9), "S001", "SKU-00002", 100 - 10 - 2, _at(9, 22)))  # 2 units of shrinkage
    deliveries = [(_id("delivery", 7), "S001", "SKU-00001", 20, _at(7, 8))]
    return {
        "sales_lines": sales,
        "deliveries": deliveries,
        "stock_counts": counts,
        "stores": store_rows,
        "products": products,
    }


def write_silver(spark, bucket: str, table: SilverTable, rows: list[tuple], mode: str = "overwrite") -> None:
    """Rows in the contract's column order; loaded_at is stamped on write, as silver does."""
    schema = StructType([field for field in table.schema.fields if field.name != "loaded_at"])
    frame = spark.createDataFrame(rows, schema).withColumn("loaded_at", F.current_timestamp())
    frame.write.format("delta").mode(mode).save(silver_table_path(bucket, table))


@pytest.fixture(scope="module")
def world(spark, localstack: Settings, postgres: Settings) -> Iterator[dict]:
    """A silver bucket with two weeks of data, an empty gold schema, and an alerts channel."""
    suffix = uuid.uuid4().hex[:10]
    bucket, schema = f"silver-t{suffix}", f"gold_t{suffix}"
    settings = dataclasses.replace(
        localstack, alerts_topic=f"t{suffix}-alerts", alerts_queue=f"t{suffix}-inbox"
    )
    ensure_bucket(settings, bucket)
    ensure_alerts_channel(settings)
    rows = silver_rows()
    for table in (SALES_LINES, DELIVERIES, STOCK_COUNTS, STORES, PRODUCTS):
        write_silver(spark, bucket, table, rows[table.name])
    migrate(settings, schema, log=lambda message: None)
    yield {"settings": settings, "bucket": bucket, "schema": schema, "rows": rows}
    with connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))


def _query(world: dict, query: str, *params) -> list[tuple]:
    with connect(world["settings"]) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}").format(sql.Identifier(world["schema"])))
        cursor.execute(query, params)
        return cursor.fetchall()


def _run(spark, world: dict, **options) -> GoldRun:
    summary = run_silver_to_gold(
        spark, world["settings"], world["bucket"], schema=world["schema"], config=CONFIG, **options
    )
    assert isinstance(summary, GoldRun), summary
    return summary


FINGERPRINT_QUERIES = {
    "sales": "select count(*), sum(revenue), sum(cost) from fact_sales",
    "daily": (
        "select store_id, date_key, baskets, revenue, gross_margin from agg_sales_store_daily order by 1, 2"
    ),
    "snapshots": (
        "select store_id, sku, date_key, opening_on_hand, closing_on_hand "
        "from fact_inventory_snapshot order by 1, 2, 3"
    ),
    "alerts": "select alert_id, kind, severity, resolved_at, needs_publish from stock_alerts order by 1",
    "products": "select product_key, sku, valid_from, valid_to from dim_product order by 1",
}


def _fingerprint(world: dict) -> dict[str, list[tuple]]:
    """Everything a rerun must leave unchanged."""
    return {name: _query(world, query) for name, query in FINGERPRINT_QUERIES.items()}


def test_full_build_loads_every_sales_line(spark, world: dict):
    summary = _run(spark, world)
    assert summary.mode == "full"
    assert summary.as_of.isoformat() == _at(DAYS - 1, 11).isoformat()
    assert summary.window_start.isoformat() == "2026-11-02"
    assert summary.rows.fact_sales_inserted == len(world["rows"]["sales_lines"])
    assert _query(world, "select count(*) from stock_position") == [(4,)]
    assert _query(world, "select count(*) from stock_forecast") == [(4 * CONFIG.forecast_days,)]


def test_silver_revenue_per_store_and_day_equals_gold(world: dict):
    expected: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for row in world["rows"]["sales_lines"]:
        quantity, price, discount, at = row[5], row[6], row[7], row[8]
        expected[(row[3], int(at.strftime("%Y%m%d")))] += quantity * price - discount
    daily = dict(
        ((s, d), r)
        for s, d, r in _query(world, "select store_id, date_key, revenue from agg_sales_store_daily")
    )
    facts = dict(
        ((s, d), r)
        for s, d, r in _query(world, "select store_id, date_key, sum(revenue) from fact_sales group by 1, 2")
    )
    assert daily == dict(expected)
    assert facts == dict(expected)


def test_price_changes_are_type_2_and_costs_follow_them(world: dict):
    versions = _query(
        world, "select sku, unit_cost, price, is_current from dim_product order by sku, valid_from"
    )
    assert versions == [
        ("SKU-00001", Decimal("1.00"), Decimal("2.50"), False),
        ("SKU-00001", Decimal("1.20"), Decimal("3.00"), True),
        ("SKU-00002", Decimal("2.00"), Decimal("4.00"), True),
    ]
    costs = _query(
        world,
        "select distinct date_key >= 20261109, unit_cost from fact_sales where sku = 'SKU-00001' order by 1",
    )
    assert costs == [(False, Decimal("1.00")), (True, Decimal("1.20"))]


def _movements(rows: dict, store: str, sku: str) -> list[model.Movement]:
    moves = [model.Movement(r[8], "sale", r[5]) for r in rows["sales_lines"] if (r[3], r[4]) == (store, sku)]
    moves += [
        model.Movement(r[4], "delivery", r[3]) for r in rows["deliveries"] if (r[1], r[2]) == (store, sku)
    ]
    moves += [
        model.Movement(r[4], "count", r[3]) for r in rows["stock_counts"] if (r[1], r[2]) == (store, sku)
    ]
    return moves


def test_snapshots_and_stock_model_match_the_python_reference(world: dict):
    rows, last_day = world["rows"], _at(DAYS - 1, 0).date()
    for store, sku in (
        ("S001", "SKU-00001"),
        ("S001", "SKU-00002"),
        ("S002", "SKU-00001"),
        ("S002", "SKU-00002"),
    ):
        reference = model.daily_positions(_movements(rows, store, sku), START.date(), last_day)
        gold = _query(
            world,
            "select d.calendar_date, opening_on_hand, sold, received, count_adjustment, closing_on_hand "
            "from fact_inventory_snapshot join dim_date as d using (date_key) "
            "where store_id = %s and sku = %s order by 1",
            store,
            sku,
        )
        assert [model.DayPosition(*row) for row in gold] == reference, (store, sku)

        expected = model.assess(
            [(p.day, p.sold, p.closing > 0) for p in reference],
            on_hand=reference[-1].closing,
            sold_today=reference[-1].sold,
            as_of_day=last_day,
            lead_time_days=3 if sku == "SKU-00001" else 2,
            config=CONFIG,
        )
        [position] = _query(
            world,
            "select on_hand, ewma, demand_std, safety_stock, reorder_point, predicted_stockout_date, "
            "dow_index from stock_position where store_id = %s and sku = %s",
            store,
            sku,
        )
        assert position[0] == expected.on_hand
        assert float(position[1]) == pytest.approx(expected.stats.level, abs=1e-3)
        assert float(position[2]) == pytest.approx(expected.stats.std, abs=1e-3)
        assert float(position[3]) == pytest.approx(expected.safety_stock, abs=0.01)
        assert float(position[4]) == pytest.approx(expected.reorder_point, abs=0.01)
        assert position[5] == expected.predicted_stockout_date
        assert [float(x) for x in position[6]] == pytest.approx(expected.stats.dow_index, abs=1e-3)


def test_alerts_are_open_for_what_runs_low(world: dict):
    # S002 had 5 units of SKU-00002 and sold none: no demand, no alert. S002's SKU-00001 went from
    # 30 to 2 (two a day), far below its reorder point.
    open_alerts = _query(world, "select store_id, sku, kind from v_open_alerts order by 1, 2, 3")
    assert ("S002", "SKU-00001", "below_reorder_point") in open_alerts
    assert not [a for a in open_alerts if a[:2] == ("S002", "SKU-00002")]
    assert _query(world, "select count(*) from stock_alerts where needs_publish") == [(0,)]


def test_a_rerun_changes_nothing(spark, world: dict):
    before = _fingerprint(world)
    summary = _run(spark, world)
    assert summary.mode == "incremental"
    assert summary.rows.fact_sales_inserted == 0
    assert summary.alerts.opened == summary.alerts.escalated == summary.published == 0
    assert _fingerprint(world) == before


def test_an_incremental_refresh_adds_the_new_day(spark, world: dict):
    new_lines = sales_of_day(DAYS)
    write_silver(spark, world["bucket"], SALES_LINES, new_lines, mode="append")
    [(closing_before,)] = _query(
        world, "select on_hand from stock_position where store_id = 'S001' and sku = 'SKU-00001'"
    )
    summary = _run(spark, world)
    assert summary.mode == "incremental"
    assert (
        summary.window_start.isoformat()
        == (_at(DAYS - 1, 0).date() - timedelta(days=CONFIG.late_days)).isoformat()
    )
    assert summary.rows.fact_sales_inserted == len(new_lines)
    sold = sum(line[5] for line in new_lines if line[3:5] == ("S001", "SKU-00001"))
    assert _query(
        world, "select on_hand from stock_position where store_id = 'S001' and sku = 'SKU-00001'"
    ) == [(closing_before - sold,)]
    assert _query(world, "select count(*) from fact_sales") == [
        (len(world["rows"]["sales_lines"]) + len(new_lines),)
    ]


def test_an_event_that_reaches_silver_days_late_still_lands(spark, world: dict):
    late = _sale("S001", 2, 15, [("SKU-00001", 1, "2.50", "0.00")])  # day 2, long before the window
    write_silver(spark, world["bucket"], SALES_LINES, late, mode="append")
    day_2 = (
        "select sold from fact_inventory_snapshot "
        "where store_id = 'S001' and sku = 'SKU-00001' and date_key = %s"
    )
    [(sold_before,)] = _query(world, day_2, 20261104)
    [(on_hand_before,)] = _query(
        world, "select on_hand from stock_position where store_id = 'S001' and sku = 'SKU-00001'"
    )
    summary = _run(spark, world)
    assert summary.window_start.isoformat() == "2026-11-04"
    assert summary.rows.fact_sales_inserted == 1
    assert _query(world, day_2, 20261104) == [(sold_before + 1,)]
    assert _query(
        world, "select on_hand from stock_position where store_id = 'S001' and sku = 'SKU-00001'"
    ) == [(on_hand_before - 1,)]


def test_the_mage_pipeline_refreshes_gold(world: dict):
    variables = {"silver_bucket": world["bucket"], "gold_schema": world["schema"]}
    run = run_pipeline("silver_to_gold", variables, settings=world["settings"])
    assert run.succeeded, run.output[-3000:]
    assert "'mode': 'incremental'" in run.output
    assert _query(world, "select count(*) from load_runs") == [(5,)]


def test_a_failed_load_leaves_gold_as_it_was(spark, world: dict):
    before = _fingerprint(world)
    runs = _query(world, "select count(*) from load_runs")
    bad = [(_id("bad"), 1, _id("bad-basket"), "S001", "SKU-99999", 1, Decimal("1.00"), Decimal("0.00"),
            _at(DAYS, 15), _at(DAYS, 15).date(), "card", None)]  # fmt: skip
    write_silver(spark, world["bucket"], SALES_LINES, bad + sales_of_day(DAYS + 1), mode="append")
    with pytest.raises(LoadError, match="SKU-99999"):
        _run(spark, world)
    assert _fingerprint(world) == before
    assert _query(world, "select count(*) from load_runs") == runs
