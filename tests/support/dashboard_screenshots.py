"""`make screenshots`: the README's dashboard screenshots, from the dashboard of the running stack.

Run after `make demo`: signs in as the demo logins (their passwords from .env) through Debian's
Chromium with the browser test's navigation (tests/support/dashboard_browser.py), saves every
page as each login to STACK_RUN_DIR/screenshots/, and copies store performance as the analyst
(every store) and inventory risk as the manager (their two stores) into docs/.
"""

from __future__ import annotations

import argparse
import shutil

from lakehouse.config import REPO_ROOT, load_settings
from tests.support.dashboard_browser import chromium, open_page, screenshot_name, sign_in, wait_rendered

PAGES = ["Store performance", "Inventory risk", "Alerts", "Customer behaviour", "Pipeline health"]
DEMO_LOGINS = {"analyst": "demo_analyst", "manager": "demo_manager"}
README_SHOTS = {
    "dashboard-store-performance.png": ("analyst", "Store performance"),
    "dashboard-inventory-risk.png": ("manager", "Inventory risk"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make screenshots", description=__doc__)
    parser.add_argument("--no-docs", action="store_true", help="leave docs/ alone")
    arguments = parser.parse_args(argv)
    settings = load_settings()
    passwords = {
        "analyst": settings.dashboard.demo_analyst_password,
        "manager": settings.dashboard.demo_manager_password,
    }
    folder = settings.stack_run_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    url = settings.dashboard.url
    with chromium() as browser:
        for kind, login in DEMO_LOGINS.items():
            page = sign_in(browser, url, login, passwords[kind])
            wait_rendered(page, PAGES[0])
            for title in PAGES:
                open_page(page, title)
                path = folder / screenshot_name(kind, title)
                page.screenshot(path=str(path))
                print(f"  {path}")
            page.close()
    if not arguments.no_docs:
        for name, (kind, title) in README_SHOTS.items():
            shutil.copyfile(folder / screenshot_name(kind, title), REPO_ROOT / "docs" / name)
            print(f"  docs/{name}: {title} as {DEMO_LOGINS[kind]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
