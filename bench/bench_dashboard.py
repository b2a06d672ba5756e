"""The dashboard: how long each page takes to appear in a browser on the 5M-line gold, as a store
manager and as an analyst.

The gold is the read API bench's (bench/bench_api.py `build`: 20 stores x 500 SKUs, stock
positions, 14-day forecasts, about 1,000 open alerts; an analyst and a manager of two stores)
with BENCH_DASHBOARD_FACT_ROWS sales lines of its own, 5M by default, in baskets as shoppers fill
them (1 to 5 lines, 3 on average, SKUs of skewed popularity, a third of them loyalty members)
over the year before its last day, and gold's aggregates refreshed for every store-day as a
load refreshes them: the customer-behaviour page reads baskets, and the API bench's one-line
baskets would give it no pairs to count. The time to build it is printed too.

The dashboard runs as `make up` runs it (Streamlit under .venv-dashboard) on a free loopback
port, and Debian's Chromium, driven by Playwright as the browser test drives it
(tests/support/dashboard_browser.py), signs in and opens the five pages in menu order, once to
warm up and then BENCH_DASHBOARD_LOADS times. A load is timed from the click in the sidebar to
the page fully rendered: Streamlit's script run over, nothing left from the previous page, every
chart drawn. p50 and p95 per page and login, against the issue's 1 s.

Floors, measured in the same run:
- a page that runs no query of its own: pipeline health as the manager (an info line; what every
  page pays for the round trip, the sidebar and its store list);
- each page's queries run directly as the same login as the dashboard runs them
  (lakehouse.gold_access): one connection per load, each query in its own read-only
  transaction without JIT compilation; median over BENCH_DASHBOARD_LOADS loads. PAGE_QUERIES
  lists them as the pages in dashboard/screens/ call them.
The ratio is a page's p50 over the sum of both floors. Pipeline health's lake probes ask buckets
that do not exist and a Mage port where nothing listens: they answer at once (and are cached for
30 s), so its figure is gold's part and the page's own. Everything is removed at the end.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from psycopg2 import sql

from bench import figure, services
from bench.bench_api import STORES, build, remove
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.gold_access import Viewer, read_only, viewer_connection
from tests.support.api_server import free_port
from tests.support.dashboard_browser import chromium, dashboard_server, open_page, sign_in, wait_rendered

FACT_ROWS = int(os.environ.get("BENCH_DASHBOARD_FACT_ROWS", "5000000"))
LOADS = int(os.environ.get("BENCH_DASHBOARD_LOADS", "20"))
TARGET = "<= 1000"
MANAGER_STORES = ["S001", "S002"]  # bench_api.build's store_access rows for its manager
EVERY_STORE = [f"S{number:03d}" for number in range(1, STORES + 1)]
PAGES = ["Store performance", "Inventory risk", "Alerts", "Customer behaviour", "Pipeline health"]
NO_QUERY_PAGE = ("manager", "Pipeline health")
# The query files each page runs (besides the sidebar's `stores`), with their parameters as the
# page passes them; `stores` is filled with the login's stores, `alert_id` with the first episode.
PAGE_QUERIES: dict[str, list[tuple[str, dict]]] = {
    "Store performance": [("store_days_vs_target", {"stores": None})],
    "Inventory risk": [("stock_positions", {"stores": None})],
    "Alerts": [("alert_episodes", {"stores": None}), ("alert_history", {"alert_id": None})],
    "Customer behaviour": [
        ("cross_sell_lift", {"min_baskets": 20, "top": 25}),
        ("loyalty_spend", {"stores": None}),
        ("basket_sizes", {"stores": None}),
    ],
    "Pipeline health": [("gold_loads", {"top": 20})],
}
STATEMENT_TIMEOUT_MS = 30_000
LAST_DAY = "2026-11-22"  # bench_api's FILL: its one sale, its stock positions and alerts
LINES_PER_BASKET = 3  # on average: 1 to 5, in turn
# Basket b: store b mod 20, day (b / 20) mod 365 before LAST_DAY, 1 + 2b mod 5 lines; line l takes SKU
# floor(500 r^2) + 1 with r uniform from a hash of (b, l): a few SKUs in many baskets, most in few.
BASKETS = """
insert into fact_sales (
    event_id, line_number, basket_id, store_id, product_key, sku, date_key, sold_at, quantity,
    unit_price, discount, unit_cost, payment_method, loyalty_id
)
select
    md5('bench-sale' || b)::uuid, line, md5('bench-basket' || b)::uuid,
    'S' || lpad((b %% 20 + 1)::text, 3, '0'), product.product_key, product.sku,
    to_char(day, 'YYYYMMDD')::integer, day + make_interval(hours => 8 + (b %% 12)::integer),
    1 + (b + line) %% 3, product.price, 0, product.unit_cost, 'card',
    case when b %% 3 = 0 then 'L' || lpad((b %% 5000)::text, 8, '0') end
from generate_series(1, %(baskets)s::bigint) as b
cross join lateral (select %(last_day)s::date - ((b / 20) %% 365)::integer as day) as days
cross join lateral generate_series(1, 1 + (2 * b %% 5)::integer) as line
cross join lateral (select (hashint8(b * 8 + line) & 1048575) / 1048576.0 as r) as pick
join dim_product as product
    on product.sku = 'SKU-' || lpad((floor(pick.r * pick.r * 500) + 1)::integer::text, 5, '0')
    and product.is_current
"""
REFRESH = """
select refresh_agg_sales_store_daily(store_days), refresh_basket_aggregates(store_days)
from (select jsonb_agg(jsonb_build_object('store_id', store_id, 'date_key', date_key)) as store_days
      from (select distinct store_id, date_key from fact_sales) as keys) as touched
"""
ANALYZED = (
    "fact_sales",
    "agg_sales_store_daily",
    "agg_sku_baskets_daily",
    "agg_sku_pairs_daily",
    "agg_basket_sizes_daily",
)


def _analyze(settings: Settings, schema: str, tables: tuple[str, ...]) -> None:
    with connect(settings, autocommit=True, owner=True) as connection, connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                sql.SQL("vacuum analyze {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            )


def _run(settings: Settings, schema: str, statement: str, parameters: dict | None = None) -> None:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}").format(sql.Identifier(schema)))
        cursor.execute(statement, parameters)


def build_gold(settings: Settings, schema: str, fact_rows: int = FACT_ROWS) -> tuple[Viewer, Viewer, int]:
    """The API bench's gold and logins, then sales lines in baskets up to `fact_rows` and every
    aggregate refreshed; returns the logins and the number of lines.

    fact_sales is analyzed between the insert and the refresh: with the statistics of the API
    bench's one line, the planner read the whole table once per store-day (a 5M-line refresh
    ran for over an hour before it was stopped).
    """
    analyst, manager, _ = build(settings, schema, 1)
    _run(settings, schema, BASKETS, {"baskets": max(fact_rows // LINES_PER_BASKET, 1), "last_day": LAST_DAY})
    _analyze(settings, schema, ANALYZED[:1])
    _run(settings, schema, REFRESH)
    _analyze(settings, schema, ANALYZED[1:])
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("select count(*) from {}.fact_sales").format(sql.Identifier(schema)))
        facts = cursor.fetchone()[0]
    return analyst, manager, facts


def _percentile(timings: list[float], fraction: float) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _load_ms(settings: Settings, viewer: Viewer, schema: str, queries: list[tuple[str, dict]]) -> float:
    """A page's queries as the dashboard runs them: one connection as the login, each query in its
    own read-only transaction."""
    began = time.perf_counter()
    with viewer_connection(settings, viewer, "bench-dashboard") as connection:
        for name, parameters in queries:
            with read_only(connection, viewer, schema, STATEMENT_TIMEOUT_MS) as transaction:
                transaction.rows("dashboard", name, parameters)
    return (time.perf_counter() - began) * 1000


def sql_floor_ms(
    settings: Settings, viewer: Viewer, schema: str, stores: list[str], is_analyst: bool
) -> dict[str, float]:
    """Per page: the median over LOADS of its queries' time as `viewer`, connection included."""
    with (
        viewer_connection(settings, viewer, "bench-dashboard") as connection,
        read_only(connection, viewer, schema, STATEMENT_TIMEOUT_MS) as transaction,
    ):
        columns, episodes = transaction.rows("dashboard", "alert_episodes", {"stores": stores})
    first = episodes[0][columns.index("alert_id")] if episodes else 0  # the history the page shows
    filled = {"stores": stores, "alert_id": first}
    floors = {}
    for title in PAGES:
        queries = [("stores", {})]
        if is_analyst or title != NO_QUERY_PAGE[1]:
            queries += [
                (name, {key: filled.get(key, value) for key, value in template.items()})
                for name, template in PAGE_QUERIES[title]
            ]
        floors[title] = statistics.median(_load_ms(settings, viewer, schema, queries) for _ in range(LOADS))
    return floors


def page_timings(url: str, viewer: Viewer) -> dict[str, list[float]]:
    """Milliseconds from the sidebar click to the page fully rendered, LOADS times per page."""
    timings: dict[str, list[float]] = defaultdict(list)
    with chromium() as browser:
        page = sign_in(browser, url, viewer.login, viewer.password)
        wait_rendered(page, PAGES[0])
        for title in [*PAGES[1:], PAGES[0]]:  # warm-up: every page once
            open_page(page, title)
        for _ in range(LOADS):
            for title in [*PAGES[1:], PAGES[0]]:
                began = time.perf_counter()
                open_page(page, title)
                timings[title].append((time.perf_counter() - began) * 1000)
        page.close()
    return timings


def run(settings: Settings) -> list[dict]:
    with services(settings, "postgres", "s3"):
        return _measure(settings)


def _measure(settings: Settings) -> list[dict]:
    schema = f"bench_dash_{uuid.uuid4().hex[:8]}"
    logins: list[Viewer] = []
    try:
        began = time.perf_counter()
        analyst, manager, facts = build_gold(settings, schema)
        build_seconds = time.perf_counter() - began
        logins = [analyst, manager]
        log = Path(tempfile.mkdtemp(prefix="bench-dashboard-")) / "streamlit.log"
        lake = {
            "SILVER_BUCKET": f"{schema.replace('_', '-')}-no-silver",
            "BRONZE_BUCKET": f"{schema.replace('_', '-')}-no-bronze",
            "MAGE_PORT": str(free_port()),
        }
        viewers = {"manager": (manager, MANAGER_STORES, False), "analyst": (analyst, EVERY_STORE, True)}
        timings, floors = {}, {}
        with dashboard_server(settings, schema, log, **lake) as url:
            for kind, (viewer, _, _) in viewers.items():
                timings[kind] = page_timings(url, viewer)
        for kind, (viewer, stores, is_analyst) in viewers.items():
            floors[kind] = sql_floor_ms(settings, viewer, schema, stores, is_analyst)
    finally:
        remove(settings, schema, logins)
    no_query = statistics.median(timings[NO_QUERY_PAGE[0]][NO_QUERY_PAGE[1]])
    rows = [
        figure(f"sales lines in the bench gold, {LOADS} loads per page", facts, "lines"),
        figure("time to build the bench gold (lines, aggregates, analyze)", build_seconds, "s"),
    ]
    for kind in viewers:
        for title in PAGES:
            p50 = statistics.median(timings[kind][title])
            floor = no_query + floors[kind][title]
            rows += [
                figure(f"p50 {title}, {kind}", p50, "ms"),
                figure(f"p95 {title}, {kind}", _percentile(timings[kind][title], 0.95), "ms", TARGET),
                figure(f"floor: {title} queries as the {kind}", floors[kind][title], "ms"),
                figure(f"ratio: p50 / (no-query page + queries), {title}, {kind}", p50 / floor, "x"),
            ]
    rows.append(
        figure("floor: p50 of the page with no query of its own (pipeline health, manager)", no_query, "ms")
    )
    return rows
