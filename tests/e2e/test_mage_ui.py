"""The Mage UI as a user sees it: headless Chromium logs in, lists the pipelines, runs one to success."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from lakehouse.config import REPO_ROOT, Settings
from lakehouse.mage_api import MageApi

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
# Flags for a root, offline, headless run: no sandbox, no background calls to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PIPELINES = sorted(
    path.parent.name for path in (REPO_ROOT / "mage_project" / "pipelines").glob("*/metadata.yaml")
)


def _runs(settings: Settings, pipeline: str) -> list[dict]:
    return MageApi(settings).pipeline_runs(pipeline)


def _log_in(page, settings: Settings) -> None:
    """Mage's sign-in page, as `make up` prints it: the owner's email and MAGE_OWNER_PASSWORD."""
    page.goto(f"{settings.mage_url}/sign-in", wait_until="networkidle", timeout=120_000)
    page.get_by_placeholder("Email").fill(settings.mage_owner_email)
    page.get_by_placeholder("Password").fill(settings.mage_owner_password)
    page.get_by_role("button", name="Sign into Mage").click()
    page.wait_for_url("**/overview**", timeout=60_000)


def test_ui_lists_pipelines_runs_one_and_shows_success(mage_server: Settings):
    screenshots = mage_server.stack_run_dir / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    known_runs = {run["id"] for run in _runs(mage_server, "stack_smoke")}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        if MageApi(mage_server).requires_login():  # a Mage started before logins were on has none
            _log_in(page, mage_server)

        page.goto(f"{mage_server.mage_url}/pipelines", wait_until="networkidle", timeout=120_000)
        for pipeline in PIPELINES:
            page.get_by_text(pipeline, exact=True).first.wait_for(timeout=30_000)
        page.screenshot(path=str(screenshots / "mage-pipelines.png"))

        page.goto(f"{mage_server.mage_url}/pipelines/stack_smoke/triggers", wait_until="networkidle")
        page.get_by_role("button", name="Run@once").click()
        page.get_by_role("button", name="Run now").click()

        deadline = time.monotonic() + 180
        new_runs: list[dict] = []
        while time.monotonic() < deadline:
            new_runs = [run for run in _runs(mage_server, "stack_smoke") if run["id"] not in known_runs]
            if new_runs and new_runs[0]["status"] in {"completed", "failed", "cancelled"}:
                break
            time.sleep(2)
        assert new_runs, "clicking Run now started no pipeline run"
        assert new_runs[0]["status"] == "completed", new_runs[0]

        page.goto(f"{mage_server.mage_url}/pipelines/stack_smoke/triggers", wait_until="networkidle")
        page.get_by_text("completed").first.wait_for(timeout=30_000)
        page.screenshot(path=str(screenshots / "mage-run-completed.png"))
        browser.close()
    assert Path(screenshots / "mage-run-completed.png").stat().st_size > 10_000
