"""The basket aggregates (migration 028) hold what a direct query over fact_sales gives, after a
first load and after an incremental one, through the real load (`load_gold`) into a migrated gold.

Baskets of one to four lines, some with the same SKU twice, members and anonymous shoppers, two
stores over three days; the second load adds baskets to a store-day the first loaded, baskets on
a new day, and stages again lines gold already has (which must count once). The views the
dashboard reads (v_cross_sell_pairs, v_basket_sizes) are checked against the same figures computed
from the lines.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from psycopg2 import sql

from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.locks import stage_lock
from spark_jobs.gold.load import LoadRun, load_gold
from spark_jobs.gold.staging import DIM_PRODUCT, DIM_STORE, FACT_SALES
from tests.support.gold_schemas import migrated_gold

pytestmark = pytest.mark.integration

FIRST_DAY = datetime(2026, 11, 20, tzinfo=UTC)
SKUS = ["SKU-A", "SKU-B", "SKU-C", "SKU-D"]
# Each basket: (store, day offset, hour, loyalty?, [(sku, quantity), ...]).
FIRST_BASKETS = [
    ("S1", 0, 9, True, [("SKU-A", 1), ("SKU-B", 2)]),
    ("S1", 0, 10, False, [("SKU-A", 1), ("SKU-B", 1), ("SKU-C", 1)]),
    ("S1", 0, 11, False, [("SKU-C", 3)]),
    ("S1", 1, 9, True, [("SKU-A", 1), ("SKU-A", 2), ("SKU-D", 1)]),  # the same SKU on two lines
    ("S2", 0, 12, False, [("SKU-B", 1), ("SKU-D", 4)]),
    ("S2", 2, 8, True, [("SKU-A", 2), ("SKU-B", 1), ("SKU-C", 1), ("SKU-D", 1)]),
]
SECOND_BASKETS = [
    ("S1", 1, 15, False, [("SKU-A", 1), ("SKU-D", 1)]),  # a store-day the first load has
    ("S2", 3, 9, True, [("SKU-C", 2), ("SKU-B", 2)]),  # a new day
    ("S2", 3, 10, False, [("SKU-B", 1)]),
]

# The figures as read straight from the facts, one basket at a time.
DIRECT = {
    "agg_sku_baskets_daily": """
        select store_id, date_key, sku, count(distinct basket_id)::integer
        from fact_sales group by store_id, date_key, sku
    """,
    "agg_sku_pairs_daily": """
        select a.store_id, a.date_key, a.sku, b.sku, count(distinct a.basket_id)::integer
        from fact_sales as a
        join fact_sales as b on b.basket_id = a.basket_id and b.sku > a.sku
        group by a.store_id, a.date_key, a.sku, b.sku
    """,
    "agg_basket_sizes_daily": """
        select store_id, date_key, units::integer,
               (count(*) filter (where is_loyalty))::integer,
               (count(*) filter (where not is_loyalty))::integer
        from (select store_id, date_key, basket_id, bool_or(is_loyalty) as is_loyalty, sum(quantity) as units
              from fact_sales group by store_id, date_key, basket_id) as baskets
        group by store_id, date_key, units
    """,
}
STORED = {
    "agg_sku_baskets_daily": "select store_id, date_key, sku, baskets from agg_sku_baskets_daily",
    "agg_sku_pairs_daily": "select store_id, date_key, sku, paired_sku, baskets from agg_sku_pairs_daily",
    "agg_basket_sizes_daily": """
        select store_id, date_key, basket_units, member_baskets, anonymous_baskets from agg_basket_sizes_daily
    """,
}
# The views over the last 28 days (all of this test's days), from the lines.
DIRECT_PAIRS_VIEW = """
    with lines as (select distinct basket_id, sku from fact_sales),
    per_sku as (select sku, count(*) as baskets from lines group by sku)
    select a.sku, b.sku, count(*)::bigint, first_sku.baskets::bigint, second_sku.baskets::bigint,
           round(count(*)::numeric / first_sku.baskets, 4)
    from lines as a
    join lines as b on b.basket_id = a.basket_id and b.sku <> a.sku
    join per_sku as first_sku on first_sku.sku = a.sku
    join per_sku as second_sku on second_sku.sku = b.sku
    group by a.sku, b.sku, first_sku.baskets, second_sku.baskets
"""
DIRECT_SIZES_VIEW = """
    select store_id, units::integer, (count(*) filter (where is_loyalty))::bigint,
           (count(*) filter (where not is_loyalty))::bigint, count(*)::bigint
    from (select store_id, basket_id, bool_or(is_loyalty) as is_loyalty, sum(quantity) as units
          from fact_sales group by store_id, basket_id) as baskets
    group by store_id, units
"""


def _csv(rows: list[tuple]) -> list[str]:
    lines = []
    for row in rows:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(["" if value is None else value for value in row])
        lines.append(buffer.getvalue())
    return lines


def _sale_lines(baskets: list[tuple]) -> list[tuple]:
    rows = []
    for store, day, hour, loyalty, lines in baskets:
        event_id, basket_id = uuid.uuid4(), uuid.uuid4()
        sold_at = FIRST_DAY + timedelta(days=day, hours=hour)
        for number, (sku, quantity) in enumerate(lines, start=1):
            rows.append(
                (event_id, number, basket_id, store, sku, sold_at.isoformat(), quantity, "2.00", "0", "card",
                 "L-1" if loyalty else None)
            )  # fmt: skip
    return rows


def _staged(sales: list[tuple]) -> dict[str, list[str]]:
    snapshot = FIRST_DAY.isoformat()
    stores = [
        (store, f"Store {store}", "north", None, None, None, "UTC", "small", 100, "08:00", "20:00", snapshot)
        for store in ("S1", "S2")
    ]
    products = [(sku, sku, "food", None, "SUP-1", 2, "1.00", "2.00", None, None) for sku in SKUS]
    return {
        DIM_STORE.name: _csv(stores),
        DIM_PRODUCT.name: _csv(products),
        FACT_SALES.name: _csv(sales),
    }


def _load(settings: Settings, schema: str, sales: list[tuple], mode: str) -> int:
    as_of = FIRST_DAY + timedelta(days=4)
    run = LoadRun(
        as_of=as_of,
        window_start=date(2026, 11, 1),
        mode=mode,
        started_at=datetime.now(UTC),
        overstock_cover_days=60,
    )
    with stage_lock(settings, "gold", schema):
        return load_gold(settings, schema, _staged(sales), run).rows.fact_sales_inserted


def _rows(settings: Settings, schema: str, query: str) -> list[tuple]:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}").format(sql.Identifier(schema)))
        cursor.execute(query)
        return sorted(cursor.fetchall())


def _assert_aggregates_match_the_facts(settings: Settings, schema: str) -> None:
    for table, direct in DIRECT.items():
        expected = _rows(settings, schema, direct)
        assert expected, table
        assert _rows(settings, schema, STORED[table]) == expected, table
    for view, direct in (("v_cross_sell_pairs", DIRECT_PAIRS_VIEW), ("v_basket_sizes", DIRECT_SIZES_VIEW)):
        assert _rows(settings, schema, f"select * from {view}") == _rows(settings, schema, direct), view


@pytest.fixture
def gold_schema(postgres: Settings) -> Iterator[str]:
    with migrated_gold(postgres, "gold_bsk") as schema:
        yield schema


def test_the_basket_aggregates_equal_the_facts_after_a_first_and_an_incremental_load(
    postgres: Settings, gold_schema: str
):
    first = _sale_lines(FIRST_BASKETS)
    assert _load(postgres, gold_schema, first, "full") == len(first)
    _assert_aggregates_match_the_facts(postgres, gold_schema)
    before = _rows(postgres, gold_schema, STORED["agg_sku_pairs_daily"])

    second = _sale_lines(SECOND_BASKETS)
    assert _load(postgres, gold_schema, first[:4] + second, "incremental") == len(second)
    _assert_aggregates_match_the_facts(postgres, gold_schema)
    after = _rows(postgres, gold_schema, STORED["agg_sku_pairs_daily"])
    assert ("S1", 20261121, "SKU-A", "SKU-D", 2) in after  # the first load's basket and the new one
    assert ("S1", 20261121, "SKU-A", "SKU-D", 1) in before
    assert ("S2", 20261123, "SKU-B", "SKU-C", 1) in after


def test_a_rerun_of_the_same_lines_changes_no_aggregate(postgres: Settings, gold_schema: str):
    lines = _sale_lines(FIRST_BASKETS)
    _load(postgres, gold_schema, lines, "full")
    before = {table: _rows(postgres, gold_schema, query) for table, query in STORED.items()}
    assert _load(postgres, gold_schema, lines, "incremental") == 0
    assert {table: _rows(postgres, gold_schema, query) for table, query in STORED.items()} == before
