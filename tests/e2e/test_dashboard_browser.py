"""The dashboard in Debian's Chromium, driven by Playwright: a store manager sees only their stores on
every page and acknowledges an alert, which gold records; the analyst sees every store.

The dashboard runs as `make up` runs it (ops.stack.components.dashboard_command) on a free loopback
port, against a real gold schema of its own (tests/support/dashboard_gold.py). Screenshots of
every page go to STACK_RUN_DIR/screenshots/dashboard-*.png.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest
from psycopg2 import sql

from lakehouse.config import Settings
from lakehouse.db import connect
from ops.stack.components import DASHBOARD_VENV, dashboard_command, dashboard_environment
from tests.e2e.test_mage_ui import CHROMIUM, CHROMIUM_ARGS
from tests.support.dashboard_gold import MANAGED, STORES, DashboardGold, Login, build, drop

pytestmark = pytest.mark.e2e

PAGES = ["Store performance", "Inventory risk", "Alerts", "Customer behaviour", "Pipeline health"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard_gold(postgres: Settings) -> Iterator[DashboardGold]:
    gold = build(postgres)
    yield gold
    drop(postgres, gold)


@pytest.fixture(scope="module")
def dashboard_url(postgres: Settings, dashboard_gold: DashboardGold, tmp_path_factory) -> Iterator[str]:
    if not (DASHBOARD_VENV / "bin" / "streamlit").exists():
        pytest.fail("the dashboard's virtualenv is missing: run `make setup`")
    port = _free_port()
    environment = dashboard_environment(postgres) | {
        "GOLD_SCHEMA": dashboard_gold.schema,
        "SILVER_BUCKET": "dashboard-test-no-silver",
        "BRONZE_BUCKET": "dashboard-test-no-bronze",
    }
    log = (tmp_path_factory.mktemp("dashboard") / "streamlit.log").open("w")
    server = subprocess.Popen(
        dashboard_command("127.0.0.1", port), env=environment, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            assert server.poll() is None, f"the dashboard exited; see {log.name}"
            assert time.monotonic() < deadline, f"the dashboard did not answer in 60 s; see {log.name}"
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _sign_in(browser, url: str, login: Login):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(url)
    page.get_by_role("textbox", name="Login").fill(login.user)
    page.get_by_role("textbox", name="Password").fill(login.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {login.user}").wait_for(timeout=30_000)
    return page


def _open(page, title: str) -> str:
    page.locator('[data-testid="stSidebar"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )
    page.wait_for_timeout(1000)
    return page.locator("body").inner_text()


def _chosen_stores(page) -> set[str]:
    tags = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"] [data-tag]')
    return {tags.nth(index).get_attribute("aria-label").split()[0] for index in range(tags.count())}


def test_a_store_manager_sees_only_their_stores_and_acknowledges_an_alert(
    postgres: Settings, dashboard_gold: DashboardGold, dashboard_url: str, browser
):
    screenshots = postgres.stack_run_dir / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    page = _sign_in(browser, dashboard_url, dashboard_gold.manager)
    hidden = [store for store in STORES if store not in MANAGED]
    for title in PAGES:
        text = _open(page, title)
        assert "Traceback" not in text and "Error" not in text, title
        assert _chosen_stores(page) == set(MANAGED), title
        for store in hidden:
            assert store not in text and STORES[store][0] not in text, (title, store)
        page.screenshot(path=str(screenshots / f"dashboard-manager-{title.lower().replace(' ', '-')}.png"))

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
    page = _sign_in(browser, dashboard_url, dashboard_gold.analyst)
    for title in PAGES:
        text = _open(page, title)
        assert "Traceback" not in text, title
        assert _chosen_stores(page) == set(STORES), title
        page.screenshot(path=str(screenshots / f"dashboard-analyst-{title.lower().replace(' ', '-')}.png"))
    page.close()
