"""The dashboard in Debian's Chromium, driven by Playwright: a store manager sees only their stores on
every page and acknowledges an alert, which gold records; the analyst sees every store.

The dashboard runs as `make up` runs it (ops.stack.components.dashboard_command) on a free loopback
port, against a real gold schema of its own (tests/support/dashboard_gold.py). Screenshots of
every page go to STACK_RUN_DIR/screenshots/dashboard-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg2 import sql

from lakehouse.config import Settings
from lakehouse.db import connect
from tests.support.dashboard_browser import (
    chosen_stores,
    chromium,
    dashboard_server,
    open_page,
    screenshot_name,
    sign_in,
)
from tests.support.dashboard_gold import MANAGED, STORES, DashboardGold, build, drop

pytestmark = pytest.mark.e2e

PAGES = ["Store performance", "Inventory risk", "Alerts", "Customer behaviour", "Pipeline health"]


@pytest.fixture(scope="module")
def dashboard_gold(postgres: Settings) -> Iterator[DashboardGold]:
    gold = build(postgres)
    yield gold
    drop(postgres, gold)


@pytest.fixture(scope="module")
def dashboard_url(postgres: Settings, dashboard_gold: DashboardGold, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("dashboard") / "streamlit.log"
    lake = {"SILVER_BUCKET": "dashboard-test-no-silver", "BRONZE_BUCKET": "dashboard-test-no-bronze"}
    with dashboard_server(postgres, dashboard_gold.schema, log, **lake) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def _open(page, title: str) -> str:
    open_page(page, title)
    return page.locator("body").inner_text()


def test_a_store_manager_sees_only_their_stores_and_acknowledges_an_alert(
    postgres: Settings, dashboard_gold: DashboardGold, dashboard_url: str, browser
):
    screenshots = postgres.stack_run_dir / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    manager = dashboard_gold.manager
    page = sign_in(browser, dashboard_url, manager.user, manager.password)
    hidden = [store for store in STORES if store not in MANAGED]
    for title in PAGES:
        text = _open(page, title)
        assert "Traceback" not in text and "Error" not in text, title
        assert chosen_stores(page) == set(MANAGED), title
        for store in hidden:
            assert store not in text and STORES[store][0] not in text, (title, store)
        page.screenshot(path=str(screenshots / screenshot_name("manager", title)))

    # The store filter offers no other store: its drop-down lists nothing left to add.
    page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.click()
    listed = page.locator('[role="option"]').all_inner_texts()
    assert not any(store in option for option in listed for store in hidden), listed
    page.keyboard.press("Escape")

    _open(page, "Alerts")
    page.get_by_label("Note (optional): what you do about it").fill("ordered this morning")
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_text("acknowledged at").first.wait_for(timeout=30_000)
    page.screenshot(path=str(screenshots / "dashboard-manager-acknowledged.png"))
    with connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("select store_id, acknowledged_by, note from {}").format(
                sql.Identifier(dashboard_gold.schema, "alert_acknowledgements")
            )
        )
        recorded = cursor.fetchall()
    assert len(recorded) == 1
    store, who, note = recorded[0]
    assert store in MANAGED and who == dashboard_gold.manager.user and note == "ordered this morning"
    page.close()


def test_the_analyst_sees_every_store(
    postgres: Settings, dashboard_gold: DashboardGold, dashboard_url: str, browser
):
    screenshots = postgres.stack_run_dir / "screenshots"
    analyst = dashboard_gold.analyst
    page = sign_in(browser, dashboard_url, analyst.user, analyst.password)
    for title in PAGES:
        text = _open(page, title)
        assert "Traceback" not in text, title
        assert chosen_stores(page) == set(STORES), title
        page.screenshot(path=str(screenshots / screenshot_name("analyst", title)))
    page.close()
