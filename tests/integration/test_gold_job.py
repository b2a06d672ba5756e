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
from spark_jobs.gold.load import LINES_PER_FETCH, LoadError, spread
from spark_jobs.gold.migrate import migrate
from spark_jobs.gold.silver_contract import (
    DELIVERIES,
    PRODUCTS,
    PROMOTIONS,
    PURCHASE_ORDERS,
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
    deliveries = [
        (_id("delivery", 7), "PO-1", "S001", "SKU-00001", 20, _at(7, 8)),  # PO-1 came in full
        (_id("delivery", 12), "PO-3", "S002", "SKU-00002", 2, _at(12, 8)),  # PO-3 came short (2 of 6)
    ]
    # (event_id, line, store, order, supplier, ordered_at, expected_at, sku, quantity, event_time,
    # event_date)
    orders = [
        (_id("po", o), 1, store, o, "SUP-01", _at(d, 22), _at(d + lead, 7), sku, units, _at(d, 22),
         _at(d, 0).date())
        for o, store, sku, d, lead, units in (
            ("PO-1", "S001", "SKU-00001", 4, 3, 20),  # received
            ("PO-2", "S002", "SKU-00001", DAYS - 3, 5, 12),  # open, due three mornings after as_of
            ("PO-3", "S002", "SKU-00002", 10, 2, 6),  # short: closed
            ("PO-4", "S001", "SKU-00002", DAYS - 6, 2, 9),  # late: expected three days before as_of
        )
    ]  # fmt: skip
    # SKU-00002 on promotion chain-wide at 20 % in the second week, and again (announced) after as_of
    promotions = [
        (_id("promo", 1), "PR-1", None, "SKU-00002", 20, _at(7, 0).date(), _at(9, 0).date(), _at(0, 0)),
        (_id("promo", 2), "PR-2", ["S001"], "SKU-00002", 30, _at(DAYS, 0).date(), _at(DAYS + 1, 0).date(),
         _at(2, 0)),
    ]  # fmt: skip
    return {
        "sales_lines": sales,
        "deliveries": deliveries,
        "purchase_orders": orders,
        "promotions": promotions,
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
    for table in (SALES_LINES, DELIVERIES, STOCK_COUNTS, STORES, PRODUCTS, PURCHASE_ORDERS, PROMOTIONS):
        write_silver(spark, bucket, table, rows[table.name])
    migrate(settings, schema, log=lambda message: None)
    yield {"settings": settings, "bucket": bucket, "schema": schema, "rows": rows}
    with connect(postgres, owner=True) as connection, connection.cursor() as cursor:
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
    # every forecast row and position says which model made it (issue 19, tracked models)
    assert _query(world, "select distinct model_version from stock_forecast") == [(model.MODEL_VERSION,)]
    assert _query(world, "select distinct model_version from stock_position") == [(model.MODEL_VERSION,)]


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
        model.Movement(r[5], "delivery", r[4]) for r in rows["deliveries"] if (r[2], r[3]) == (store, sku)
    ]
    moves += [
        model.Movement(r[4], "count", r[3]) for r in rows["stock_counts"] if (r[1], r[2]) == (store, sku)
    ]
    return moves


def _reference(rows: dict, last_day) -> dict[tuple[str, str], model.Assessment]:
    """`stock_model.assess` for each store-SKU of the world, with what gold's Spark job uses:
    the promotion days, the category's pooled prior, the open orders, what is left of today."""
    as_of = _at(DAYS - 1, 11)
    categories = {"SKU-00001": "drinks", "SKU-00002": "pantry"}
    keys = [(s, k) for s in ("S001", "S002") for k in ("SKU-00001", "SKU-00002")]
    discounts: dict[tuple[str, str], dict] = defaultdict(dict)
    for _, _, stores, sku, percent, first, last, announced in rows["promotions"]:
        for store in stores or ("S001", "S002"):
            day = first
            while day <= last:
                if announced <= as_of:
                    discounts[(store, sku)][day] = percent / 100
                day += timedelta(days=1)
    positions, stats = {}, {}
    for store, sku in keys:
        positions[(store, sku)] = model.daily_positions(_movements(rows, store, sku), START.date(), last_day)
        history = [
            (p.day, p.sold, p.closing > 0, discounts[(store, sku)].get(p.day, 0.0))
            for p in positions[(store, sku)]
        ]
        stats[(store, sku)] = (history, model.demand_stats(history, last_day, CONFIG.ewma_alpha, 56))
    share = model.level_variance_share(CONFIG.ewma_alpha)
    priors = {
        category: model.category_prior(
            [stats[key][1] for key in keys if categories[key[1]] == category], share
        )
        for category in set(categories.values())
    }
    received = {(r[2], r[1], r[3]): (r[4], r[5]) for r in rows["deliveries"]}
    found = {}
    for store, sku in keys:
        receipts: dict = defaultdict(int)
        for _, _, s, order, _, ordered_at, expected_at, k, units, _, _ in rows["purchase_orders"]:
            if (s, k) != (store, sku):
                continue
            came = received.get((store, order, sku))
            line = model.OrderLine(order, sku, ordered_at, expected_at, units, *(came or (None, None)))
            if model.on_order(line, as_of):
                receipts[model.receipt_day(expected_at.date(), last_day)] += model.on_order(line, as_of)
        history, demand = stats[(store, sku)]
        found[(store, sku)] = model.assess(
            history,
            on_hand=positions[(store, sku)][-1].closing,
            sold_today=positions[(store, sku)][-1].sold,
            as_of_day=last_day,
            lead_time_days=3 if sku == "SKU-00001" else 2,
            config=CONFIG,
            prior=priors[categories[sku]],
            discounts=discounts[(store, sku)],
            receipts=receipts,
            today_share=1 - 11 / 24,
            stats=demand,
        )
    return found


def test_snapshots_and_stock_model_match_the_python_reference(world: dict):
    rows, last_day = world["rows"], _at(DAYS - 1, 0).date()
    references = _reference(rows, last_day)
    for (store, sku), expected in references.items():
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
        [position] = _query(
            world,
            "select on_hand, ewma, demand_std, safety_stock, reorder_point, predicted_stockout_date, "
            "dow_index, on_order, inventory_position, promotion_elasticity, demand_dispersion, "
            "stockout_probability, stockout_probability_1d, expected_stockout_date, recommended_order_qty, "
            "stockout_probability_raw, calibration_fitted_on, calibration_rows, lead_time_days "
            "from stock_position where store_id = %s and sku = %s",
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
        assert (position[7], position[8]) == (expected.on_order, expected.on_hand + expected.on_order)
        assert float(position[9]) == pytest.approx(expected.elasticity, abs=1e-3), (store, sku)
        assert float(position[10]) == pytest.approx(expected.dispersion, abs=1e-3), (store, sku)
        assert float(position[11]) == pytest.approx(expected.probability, abs=1e-4), (store, sku)
        assert float(position[12]) == pytest.approx(expected.day_probability, abs=1e-4), (store, sku)
        assert position[13] == expected.expected_stockout_date, (store, sku)
        assert position[14] == expected.recommended_order_qty, (store, sku)
        # no day's outcome is known yet: the calibration map is the identity (calibration.py)
        assert float(position[15]) == pytest.approx(expected.probability, abs=1e-4), (store, sku)
        assert (position[16], position[17]) == (None, 0)
        # the raw probability is kept on the day's snapshot, for later loads to calibrate on
        recorded = _query(
            world,
            "select stockout_probability_raw, stockout_lead_time_days from fact_inventory_snapshot "
            "join dim_date using (date_key) where store_id = %s and sku = %s and calendar_date = %s",
            store,
            sku,
            last_day,
        )
        assert recorded == [(position[15], position[18]) if expected.on_hand > 0 else (None, None)]
        forecast = _query(
            world,
            "select forecast_units from stock_forecast where store_id = %s and sku = %s "
            "order by forecast_date",
            store,
            sku,
        )
        assert [float(f) for (f,) in forecast] == pytest.approx(
            [u for _, u in expected.daily_forecast], abs=1e-3
        )


def test_order_lifecycle_and_promotion_calendar(world: dict):
    # PO-1 came in full and PO-3 short: closed. PO-2 is open, PO-4 late: both on order.
    assert _query(world, "select order_id, status, ordered from open_orders order by 1") == [
        ("PO-2", "open", 12),
        ("PO-4", "late", 9),
    ]
    assert _query(
        world, "select store_id, sku, on_order from stock_position where on_order > 0 order by 1"
    ) == [
        ("S001", "SKU-00002", 9),
        ("S002", "SKU-00001", 12),
    ]
    # PR-1 is chain-wide over three days: both stores; PR-2 one store over two days
    assert _query(
        world,
        "select promotion_id, count(*), min(discount_percent) from promotion_calendar group by 1 order by 1",
    ) == [("PR-1", 6, 20), ("PR-2", 2, 30)]


def test_alerts_are_open_for_what_runs_low(world: dict):
    # S002 had 5 units of SKU-00002 (2 more came short) and sold none: no demand, no alert.
    # S002's SKU-00001 went from 30 to 2 (two a day, 12 due in three days): at risk.
    open_alerts = _query(
        world,
        "select store_id, sku, kind, stockout_probability, on_order from v_open_alerts order by 1, 2, 3",
    )
    [risk] = [a for a in open_alerts if a[:3] == ("S002", "SKU-00001", "stockout_risk")]
    assert float(risk[3]) >= CONFIG.alert_min_probability and risk[4] == 12
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


def test_a_big_load_is_fetched_in_partitions_of_bounded_size(spark):
    """The driver fetches a staged partition whole: a big load is spread first, a small one is not."""
    rows = 2 * LINES_PER_FETCH + 1
    big = spark.range(0, rows, numPartitions=2)
    spread_out = spread(big, rows)
    sizes = spread_out.rdd.glom().map(len).collect()
    assert len(sizes) == 3 and max(sizes) <= LINES_PER_FETCH and sum(sizes) == rows
    assert sorted(row.id for row in spread_out.collect()) == list(range(rows))
    small = spark.range(0, 10, numPartitions=2)
    assert spread(small, 10) is small
