"""The dashboard in Debian's Chromium through Playwright: a real Streamlit server on a free loopback
port, signing in, and opening a page until it is fully rendered.

One copy of the navigation for the browser test (tests/e2e/test_dashboard_browser.py), the
dashboard bench (bench/bench_dashboard.py, which times `open_page`) and the README's screenshots
(tests/support/dashboard_screenshots.py, `make screenshots`).
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakehouse.config import Settings
from ops.stack.components import DASHBOARD_VENV, dashboard_command, dashboard_environment
from tests.e2e.test_mage_ui import CHROMIUM, CHROMIUM_ARGS
from tests.support.api_server import free_port

VIEWPORT = {"width": 1500, "height": 1100}
TIMEOUT_MS = 30_000

# True once the script run that drew the page is over and its output is on screen: Streamlit says
# it is not running, no element is left over from the previous page, and every chart is drawn.
_RENDERED = """(title) => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    const headings = [...document.querySelectorAll('h1')].map((heading) => heading.textContent.trim());
    if (!headings.includes(title)) return false;
    if (document.querySelector('[data-testid="stElementContainer"][data-stale="true"]')) return false;
    return [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .every((chart) => chart.querySelector('canvas, svg'));
}"""


@contextmanager
def dashboard_server(settings: Settings, schema: str, log_file: Path, **environment: str) -> Iterator[str]:
    """The dashboard's URL while it serves gold `schema` as `make up` runs it; stopped at the end.

    `environment` overrides settings for the server alone (e.g. the lake buckets it probes).
    """
    if not (DASHBOARD_VENV / "bin" / "streamlit").exists():
        raise RuntimeError("the dashboard's virtualenv is missing: run `make setup`")
    port = free_port()
    env = dashboard_environment(settings) | {"GOLD_SCHEMA": schema, **environment}
    url = f"http://127.0.0.1:{port}"
    with open(log_file, "ab") as log:
        server = subprocess.Popen(
            dashboard_command("127.0.0.1", port), env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if server.poll() is not None:
                raise RuntimeError(f"the dashboard exited; see {log_file}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not answer in 60 s; see {log_file}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def chromium() -> Iterator:
    """Debian's Chromium under Playwright (Playwright downloads no browser of its own here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(browser, url: str, login: str, password: str):
    """A new tab signed in to the dashboard at `url` as `login`; the first page is on screen."""
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(url)
    page.get_by_role("textbox", name="Login").fill(login)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {login}").wait_for(timeout=TIMEOUT_MS)
    return page


def open_page(page, title: str) -> None:
    """Choose `title` in the sidebar and return once that page is fully rendered."""
    page.locator('[data-testid="stSidebar"]').get_by_text(title, exact=True).click()
    wait_rendered(page, title)


def wait_rendered(page, title: str) -> None:
    """Wait until the page headed `title` is drawn and Streamlit's script run is over."""
    page.wait_for_function(_RENDERED, arg=title, timeout=TIMEOUT_MS, polling=10)


def chosen_stores(page) -> set[str]:
    """The store ids chosen in the sidebar's store filter."""
    tags = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"] [data-tag]')
    return {tags.nth(index).get_attribute("aria-label").split()[0] for index in range(tags.count())}


def screenshot_name(login_kind: str, title: str) -> str:
    """`dashboard-manager-store-performance.png` for ("manager", "Store performance")."""
    return f"dashboard-{login_kind}-{title.lower().replace(' ', '-')}.png"
