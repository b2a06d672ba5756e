"""A small, real gold schema for the dashboard's tests: migrated, filled, with two login roles.

Three stores (S001-S003) over 35 days ending on 2026-11-22 (one of them without a sale, a gap in
the data), four SKUs, stock positions of every risk, three open alerts and one resolved, a gold
load run; an analyst login that sees every store and a store manager login that sees S001 and
S002 (`store_access`). The AppTest pages
(dashboard/tests, run by tests/integration/test_dashboard_pages.py) and the browser test
(tests/e2e/test_dashboard_browser.py) read it as those logins, through the same migrations and
views as production.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from psycopg2 import sql

from lakehouse.config import Settings
from lakehouse.db import connect
from spark_jobs.gold.migrate import migrate

STORES = {"S001": ("North Market", "north"), "S002": ("East Corner", "east"), "S003": ("West Depot", "west")}
MANAGED = ("S001", "S002")
# sku -> (name, category, supplier, unit cost, price)
PRODUCTS = {
    "SKU-00001": ("Tea 20 bags", "drinks", "SUP-1", 1.00, 2.50),
    "SKU-00002": ("Milk 1 l", "dairy", "SUP-2", 0.60, 1.20),
    "SKU-00003": ("Bread 500 g", "bakery", "SUP-2", 0.80, 2.00),
    "SKU-00004": ("Jam 300 g", "pantry", "SUP-1", 1.50, 3.90),
}
LAST_DAY = "2026-11-22"
DAYS = 35
GAP_DAY = 3  # days before LAST_DAY


@dataclass(frozen=True)
class Login:
    user: str
    password: str


@dataclass(frozen=True)
class DashboardGold:
    schema: str
    analyst: Login
    manager: Login


_FILL = """
select ensure_dim_date(date %(last)s - %(days)s, date %(last)s + 30);

insert into dim_product (sku, product_name, category, supplier_id, lead_time_days, unit_cost, price,
                         valid_from, is_current)
select sku, name, category, supplier, 2, cost, price, '-infinity', true
from jsonb_to_recordset(%(products)s::jsonb)
    as p (sku text, name text, category text, supplier text, cost numeric, price numeric);

-- Baskets: every day, each store sells tea with milk (a strong pair), bread alone, and jam with
-- bread; S002 sells twice as much, and the last day less than its weekday usually brings. GAP_DAY
-- days before the last, no store sells anything: a day no events reached gold for.
insert into fact_sales (event_id, line_number, basket_id, store_id, product_key, sku, date_key,
                        sold_at, quantity, unit_price, discount, unit_cost, payment_method, loyalty_id)
select gen_random_uuid(), line.number, md5(store.id || day::text || basket.n)::uuid, store.id,
       product.product_key, product.sku, to_char(day, 'YYYYMMDD')::integer, day + interval '10 hours',
       line.quantity, product.price, 0, product.unit_cost, 'card',
       case when basket.n %% 3 = 0 then 'L-' || basket.n end
from unnest(%(stores)s::text[]) as store (id)
cross join generate_series(date %(last)s - %(days)s + 1, date %(last)s, interval '1 day') as day
cross join lateral generate_series(1, case when day = date %(last)s - %(gap)s then 0
                                           when store.id = 'S002' then 12 else 6 end
                                      - case when day = date %(last)s then 2 else 0 end) as basket (n)
cross join lateral (
    values
        (1, case basket.n %% 3 when 0 then 'SKU-00001' when 1 then 'SKU-00003' else 'SKU-00004' end, 1),
        (2, case basket.n %% 3 when 0 then 'SKU-00002' when 1 then null else 'SKU-00003' end, 2)
) as line (number, sku, quantity)
join dim_product as product on product.sku = line.sku;

select refresh_agg_sales_store_daily(store_days), refresh_basket_aggregates(store_days)
from (select jsonb_agg(distinct jsonb_build_object('store_id', store_id, 'date_key', date_key)) as store_days
      from fact_sales) as touched;

insert into fact_inventory_snapshot (store_id, sku, date_key, opening_on_hand, sold, received,
                                     count_adjustment, closing_on_hand, risk)
select store_id, sku, to_char(day, 'YYYYMMDD')::integer, 40, 3, 0, 0, 37, 'ok'
from unnest(%(stores)s::text[]) as store (store_id)
cross join unnest(%(skus)s::text[]) as product (sku)
cross join generate_series(date %(last)s - 27, date %(last)s, interval '1 day') as day;

-- One position of each risk per store: tea runs out, milk is low, bread is fine, jam overstocked.
insert into stock_position (store_id, sku, as_of, on_hand, mean_7d, mean_28d, ewma, demand_std,
                            demand_days, dow_index, service_level, lead_time_days, safety_stock,
                            reorder_point, order_up_to_level, days_of_cover, predicted_stockout_date,
                            recommended_order_qty, risk)
select store_id, sku, timestamptz %(last)s + interval '20 hours', on_hand, 3, 3, 3, 1, 28,
       array[1, 1, 1, 1, 1, 1, 1]::numeric[], 0.95, 2, 3.3, 9.3, 12.3,
       on_hand / 3.0, date %(last)s + (on_hand / 3), greatest(0, 12 - on_hand), risk
from unnest(%(stores)s::text[]) as store (store_id)
cross join (values ('SKU-00001', 0, 'stockout'), ('SKU-00002', 4, 'below_reorder_point'),
                   ('SKU-00003', 20, 'ok'), ('SKU-00004', 150, 'overstock')) as p (sku, on_hand, risk);

insert into stock_alerts (store_id, sku, kind, severity, on_hand, reorder_point, predicted_stockout_date,
                          recommended_order_qty, first_seen_at, last_seen_at, escalated_at, resolved_at)
values
    ('S001', 'SKU-00001', 'stockout', 'critical', 0, 9.3, null, 12,
     timestamptz %(last)s + interval '8 hours', timestamptz %(last)s + interval '20 hours', null, null),
    ('S002', 'SKU-00002', 'below_reorder_point', 'high', 4, 9.3, date %(last)s + 1, 8,
     timestamptz %(last)s + interval '9 hours', timestamptz %(last)s + interval '20 hours',
     timestamptz %(last)s + interval '15 hours', null),
    ('S003', 'SKU-00001', 'stockout', 'critical', 0, 9.3, null, 12,
     timestamptz %(last)s + interval '8 hours', timestamptz %(last)s + interval '20 hours', null, null),
    ('S001', 'SKU-00002', 'below_reorder_point', 'medium', 5, 9.3, date %(last)s + 1, 7,
     timestamptz %(last)s - interval '3 days', timestamptz %(last)s - interval '2 days', null,
     timestamptz %(last)s - interval '2 days');

insert into load_runs (mode, as_of, window_start, row_counts, started_at, finished_at)
values ('full', timestamptz %(last)s + interval '20 hours', date %(last)s - %(days)s,
        '{"fact_sales": 1}'::jsonb, now() - interval '30 seconds', now());
"""


def build(settings: Settings) -> DashboardGold:
    """Migrate a fresh schema, fill it, and create the analyst and manager logins (as the owner)."""
    import json

    schema = f"gold_d{uuid.uuid4().hex[:10]}"
    migrate(settings, schema, log=lambda message: None)
    suffix = uuid.uuid4().hex[:8]
    analyst = Login(f"dash_ana_{suffix}", uuid.uuid4().hex)
    manager = Login(f"dash_mgr_{suffix}", uuid.uuid4().hex)
    products = [
        {"sku": sku, "name": name, "category": category, "supplier": supplier, "cost": cost, "price": price}
        for sku, (name, category, supplier, cost, price) in PRODUCTS.items()
    ]
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}, public").format(sql.Identifier(schema)))
        cursor.executemany(
            "insert into dim_store (store_id, store_name, region, timezone, snapshot_at) "
            "values (%s, %s, %s, 'UTC', now())",
            [(store, name, region) for store, (name, region) in STORES.items()],
        )
        cursor.execute(
            _FILL,
            {
                "last": LAST_DAY,
                "days": DAYS,
                "gap": GAP_DAY,
                "products": json.dumps(products),
                "stores": list(STORES),
                "skus": list(PRODUCTS),
            },
        )
        for login, group in ((analyst, "gold_analyst"), (manager, "gold_store_manager")):
            cursor.execute(
                sql.SQL("create role {} login password %s in role {}").format(
                    sql.Identifier(login.user), sql.Identifier(group)
                ),
                (login.password,),
            )
        cursor.executemany(
            "insert into store_access (role_name, store_id) values (%s, %s)",
            [(manager.user, store) for store in MANAGED],
        )
    return DashboardGold(schema, analyst, manager)


def drop(settings: Settings, gold: DashboardGold) -> None:
    """Remove the schema and the two logins (their acknowledgements go with the schema)."""
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(gold.schema)))
        for login in (gold.analyst, gold.manager):
            cursor.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(login.user)))
