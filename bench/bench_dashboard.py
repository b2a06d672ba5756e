"""The dashboard: how long each page takes to appear in a browser on the 5M-line gold, as a store
manager and as an analyst.

The gold is the read API bench's (bench/bench_api.py `build`: 20 stores x 500 SKUs, stock
positions, 14-day forecasts, about 1,000 open alerts, BENCH_DASHBOARD_FACT_ROWS sales lines, 5M
by default; an analyst and a manager of two stores). The dashboard runs as `make up` runs it
(Streamlit under .venv-dashboard) on a free loopback port, and Debian's Chromium, driven by
Playwright as the browser test drives it (tests/support/dashboard_browser.py), signs in and
opens the five pages in menu order, once to warm up and then BENCH_DASHBOARD_LOADS times. A load
is timed from the click in the sidebar to the page fully rendered: Streamlit's script run over,
nothing left from the previous page, every chart drawn. p50 and p95 per page and login, against
the issue's 1 s.

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

from bench import figure, services
from bench.bench_api import STORES, build, remove
from lakehouse.config import Settings
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
        analyst, manager, facts = build(settings, schema, FACT_ROWS)
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
    rows = [figure(f"sales lines in the bench gold, {LOADS} loads per page", facts, "lines")]
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
