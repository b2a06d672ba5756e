"""The dashboard's pages, rendered by Streamlit's AppTest in the dashboard's own virtualenv.

Streamlit cannot share the main environment (altair 5 against great-expectations' altair < 5), so
this test builds a real gold schema and two logins here (tests/support/dashboard_gold.py) and runs
dashboard/tests under .venv-dashboard's Python, failing with its output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from lakehouse.config import REPO_ROOT, Settings
from lakehouse.db import connect
from tests.support.dashboard_gold import DashboardGold, build, drop

pytestmark = pytest.mark.integration

DASHBOARD_PYTHON = REPO_ROOT / ".venv-dashboard" / "bin" / "python"


@pytest.fixture(scope="module")
def dashboard_gold(postgres: Settings) -> Iterator[DashboardGold]:
    gold = build(postgres)
    yield gold
    drop(postgres, gold)


def dashboard_environment(gold: DashboardGold, unique_name: str) -> dict[str, str]:
    """The dashboard's environment for a test gold: its schema, and a lake with nothing in it yet."""
    return {
        **os.environ,
        "GOLD_SCHEMA": gold.schema,
        "SILVER_BUCKET": f"{unique_name}-silver",
        "BRONZE_BUCKET": f"{unique_name}-bronze",
        "PYTHONPATH": str(REPO_ROOT),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }


@pytest.fixture
def held_object(postgres: Settings, dashboard_gold: DashboardGold, unique_name: str) -> Iterator[str]:
    """A bronze object held by silver's quality gate, of a stream of its own (no run takes it)."""
    key = f"{unique_name}/2026/11/22/held-object.jsonl.gz"
    with connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute(
            "insert into ingestion.held_objects (stream, bronze_key, size, status, run_id, reason) "
            "values (%s, %s, 1024, 'held', 'test-run', 'expect_column_values_to_not_be_null: event_id')",
            (unique_name, key),
        )
    yield key
    with connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute("delete from ingestion.held_objects where stream = %s", (unique_name,))


def test_every_page_renders_for_the_analyst_and_the_store_manager(
    dashboard_gold: DashboardGold, unique_name: str, held_object: str
):
    if not DASHBOARD_PYTHON.exists():
        pytest.fail(f"{DASHBOARD_PYTHON} is missing: run `make setup` (it installs .venv-dashboard)")
    environment = dashboard_environment(dashboard_gold, unique_name)
    environment["DASHBOARD_TEST_ANALYST"] = f"{dashboard_gold.analyst.user}:{dashboard_gold.analyst.password}"
    environment["DASHBOARD_TEST_MANAGER"] = f"{dashboard_gold.manager.user}:{dashboard_gold.manager.password}"
    environment["DASHBOARD_TEST_HELD_KEY"] = held_object
    result = subprocess.run(
        [
            str(DASHBOARD_PYTHON),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore",
            "dashboard/tests",
        ],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    sys.stdout.write(result.stdout[-5000:])
    assert result.returncode == 0, (
        f"dashboard/tests failed:\n{result.stdout[-15000:]}\n{result.stderr[-3000:]}"
    )
    assert " passed" in result.stdout.splitlines()[-1]
