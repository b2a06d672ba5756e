"""The read API: p95 latency of each endpoint and requests/s at 8 concurrent clients, on loopback.

A gold of its own (migrated, 20 stores x 500 SKUs: stock positions with probabilities when gold
has them, 14-day forecasts, about 1,000 open alerts) with BENCH_API_FACT_ROWS sales lines (5M by
default, topped up as bench/bench_gold.py does), an analyst and a store manager login (two
stores), and the API as `make up` runs it (uvicorn under .venv-api) on a free port. Each endpoint
is called BENCH_API_REQUESTS times by one client as the manager (row-level security on every
query); then 8 clients run a bounded loop over all endpoints. The floors beside them: GET /health
(HTTP alone, no database) and a bare connection as the login with its role check (the database's
part every request pays). Everything is removed at the end.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from psycopg2 import sql

from bench import figure, services
from bench.bench_gold import top_up_facts
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.gold_access import Viewer, read_only, viewer_connection
from spark_jobs.gold.migrate import migrate
from tests.support.api_server import api_server

FACT_ROWS = int(os.environ.get("BENCH_API_FACT_ROWS", "5000000"))
REQUESTS = int(os.environ.get("BENCH_API_REQUESTS", "200"))
CLIENTS = 8
LOOPS_PER_CLIENT = int(os.environ.get("BENCH_API_LOOPS", "25"))
STORES, SKUS = 20, 500
LATENCY_TARGET = "< 50"

FILL = """
select ensure_dim_date(date '2026-11-22' - 400, date '2026-11-22' + 30);

insert into dim_store (store_id, store_name, region, timezone, snapshot_at)
select 'S' || lpad(n::text, 3, '0'), 'Store ' || n, 'region ' || (n % 4), 'UTC', now()
from generate_series(1, %(stores)s) as n;

insert into dim_product (sku, product_name, category, supplier_id, lead_time_days, unit_cost, price,
                         valid_from, is_current)
select 'SKU-' || lpad(n::text, 5, '0'), 'Product ' || n, 'category ' || (n % 12), 'SUP-' || (n % 9),
       3, 1 + n % 7, 2 + n % 9, '-infinity', true
from generate_series(1, %(skus)s) as n;

insert into fact_sales (event_id, line_number, basket_id, store_id, product_key, sku, date_key, sold_at,
                        quantity, unit_price, discount, unit_cost, payment_method, loyalty_id)
select gen_random_uuid(), 1, gen_random_uuid(), 'S001', product_key, sku, 20261122,
       timestamptz '2026-11-22 10:00Z', 1, price, 0, unit_cost, 'card', null
from dim_product where sku = 'SKU-00001';

insert into stock_position (store_id, sku, as_of, on_hand, mean_7d, mean_28d, ewma, demand_std,
                            demand_days, dow_index, service_level, lead_time_days, safety_stock,
                            reorder_point, order_up_to_level, days_of_cover, predicted_stockout_date,
                            recommended_order_qty, risk)
select store_id, sku, timestamptz '2026-11-22 20:00Z', on_hand, 3, 3, 3, 1, 28,
       array[1, 1, 1, 1, 1, 1, 1]::numeric[], 0.95, 3, 3.3, 12.3, 18.3, on_hand / 3.0,
       date '2026-11-22' + (on_hand / 3), greatest(0, 18 - on_hand),
       case when on_hand = 0 then 'stockout' when on_hand <= 12 then 'below_reorder_point'
            when on_hand > 90 then 'overstock' else 'ok' end
from dim_store
cross join dim_product
cross join lateral (select (hashtext(store_id || sku) & 127) as on_hand) as stock;

insert into stock_forecast (store_id, sku, forecast_date, forecast_units, as_of)
select store_id, sku, date '2026-11-22' + day, 3, timestamptz '2026-11-22 20:00Z'
from stock_position cross join generate_series(1, 14) as day;

insert into stock_alerts (store_id, sku, kind, severity, on_hand, reorder_point, predicted_stockout_date,
                          recommended_order_qty, first_seen_at, last_seen_at)
select store_id, sku, case when on_hand = 0 then 'stockout' else 'below_reorder_point' end,
       case when on_hand = 0 then 'critical' when on_hand < 3 then 'high' else 'medium' end,
       on_hand, reorder_point, predicted_stockout_date, recommended_order_qty,
       timestamptz '2026-11-22 08:00Z', timestamptz '2026-11-22 20:00Z'
from stock_position where on_hand < 13;
"""


def build(settings: Settings, schema: str, fact_rows: int = FACT_ROWS) -> tuple[Viewer, Viewer, int]:
    """The bench gold in `schema` with `fact_rows` sales lines and its two logins (made as the
    owner: the loader may not create roles); returns them and the fact count. The dashboard's
    bench reads the same gold."""
    migrate(settings, schema, log=lambda message: None)
    suffix = uuid.uuid4().hex[:8]
    analyst = Viewer(f"bench_ana_{suffix}", uuid.uuid4().hex)
    manager = Viewer(f"bench_mgr_{suffix}", uuid.uuid4().hex)
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}, public").format(sql.Identifier(schema)))
        cursor.execute(FILL.replace("%", "%%").replace("%%(", "%("), {"stores": STORES, "skus": SKUS})
        cursor.execute(
            "select exists (select from information_schema.columns where table_schema = %s "
            "and table_name = 'stock_position' and column_name = 'stockout_probability')",
            (schema,),
        )
        if cursor.fetchone()[0]:
            cursor.execute(
                "update stock_position set stockout_probability = (hashtext(sku || store_id) & 1023) / 1024.0"
            )
        for login, group in ((analyst, "gold_analyst"), (manager, "gold_store_manager")):
            cursor.execute(
                sql.SQL("create role {} login password %s in role {}").format(
                    sql.Identifier(login.login), sql.Identifier(group)
                ),
                (login.password,),
            )
        cursor.execute(
            "insert into store_access values (%s, 'S001'), (%s, 'S002')", (manager.login, manager.login)
        )
    facts = top_up_facts(settings, schema, fact_rows)
    with connect(settings, autocommit=True, owner=True) as connection, connection.cursor() as cursor:
        for table in ("stock_position", "stock_forecast", "stock_alerts", "dim_store", "dim_product"):
            cursor.execute(
                sql.SQL("vacuum analyze {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            )
    return analyst, manager, facts


def remove(settings: Settings, schema: str, logins: list[Viewer]) -> None:
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        for login in logins:
            cursor.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(login.login)))


ENDPOINTS = {
    "stores": "/stores",
    "store": "/stores/S001",
    "stock": "/stores/S001/stock",
    "stock, risk filter": "/stores/S001/stock?risk=below_reorder_point",
    "stock, page 2": None,  # the cursor of the first page, filled in at run time
    "open alerts": "/alerts",
    "forecast": "/stores/S001/forecast/SKU-00042",
    "reorder list": "/reorder-list",
}


def p95_ms(call, count: int) -> float:
    call()  # warm-up
    timings = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.quantiles(timings, n=20)[-1]


def get(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")


def throughput(url: str, viewer: Viewer, paths: list[str]) -> float:
    """Requests/s of CLIENTS clients each calling every path LOOPS_PER_CLIENT times."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with httpx.Client(base_url=url, auth=(viewer.login, viewer.password), timeout=30) as client:
                for _ in range(LOOPS_PER_CLIENT):
                    for path in paths:
                        get(client, path)
        except BaseException as error:  # reported after the join
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if errors:
        raise errors[0]
    return CLIENTS * LOOPS_PER_CLIENT * len(paths) / seconds


def run(settings: Settings) -> list[dict]:
    with services(settings, "postgres"):
        return _measure(settings)


def _measure(settings: Settings) -> list[dict]:
    schema = f"bench_api_{uuid.uuid4().hex[:8]}"
    logins: list[Viewer] = []
    try:
        analyst, manager, facts = build(settings, schema)
        logins = [analyst, manager]
        log = Path(tempfile.mkdtemp(prefix="bench-api-")) / "api.log"
        with (
            api_server(settings, schema, log) as url,
            httpx.Client(base_url=url, auth=(manager.login, manager.password), timeout=30) as client,
        ):
            first = client.get("/stores/S001/stock", params={"limit": 100}).json()
            paths = dict(ENDPOINTS, **{"stock, page 2": f"/stores/S001/stock?cursor={first['next_cursor']}"})
            rows = [
                figure(
                    f"p95 {name} ({path.split('?')[0]})",
                    p95_ms(lambda p=path: get(client, p), REQUESTS),
                    "ms",
                    LATENCY_TARGET,
                )
                for name, path in paths.items()
            ]
            health = p95_ms(lambda: get(client, "/health"), REQUESTS)

            def bare() -> None:
                with (
                    viewer_connection(settings, manager, "bench-api") as connection,
                    read_only(connection, manager, schema, 5000) as transaction,
                ):
                    transaction.role()

            database = p95_ms(bare, REQUESTS)
            rate = throughput(url, manager, list(paths.values()))
            health_rate = throughput(url, manager, ["/health"] * len(paths))
    finally:
        remove(settings, schema, logins)
    return [
        *rows,
        figure("floor: p95 GET /health (HTTP, no database)", health, "ms"),
        figure("floor: p95 connect as the login + role check", database, "ms"),
        figure(f"requests/s, {CLIENTS} clients, every endpoint, {facts:,} facts", rate, "req/s"),
        figure(f"floor: requests/s, {CLIENTS} clients, GET /health", health_rate, "req/s"),
        figure("ratio: endpoint mix / health requests/s", rate / health_rate, "x"),
    ]
