"""Every page rendered by Streamlit's AppTest against a real gold in PostgreSQL, as an analyst and as
a store manager, through the real query layer.

Runs in .venv-dashboard; tests/integration/test_dashboard_pages.py builds the gold schema and the
two logins (tests/support/dashboard_gold.py) and runs this module with:

    GOLD_SCHEMA=<schema> DASHBOARD_TEST_ANALYST=<login>:<password> DASHBOARD_TEST_MANAGER=<login>:<password>
    .venv-dashboard/bin/python -m pytest dashboard/tests
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.gold import Gold, GoldError, Viewer
from dashboard.screens import PAGES
from lakehouse.config import load_settings

APP = str(Path(__file__).resolve().parent.parent / "app.py")
MANAGED = ["S001", "S002"]
ALL_STORES = ["S001", "S002", "S003"]
LAST_DAY, GAP_DAY = "2026-11-22", 3  # tests/support/dashboard_gold.py

if "DASHBOARD_TEST_ANALYST" not in os.environ:
    pytest.skip(
        "run through tests/integration/test_dashboard_pages.py, which builds the gold these tests read",
        allow_module_level=True,
    )


def _login(variable: str) -> Viewer:
    login, _, password = os.environ[variable].partition(":")
    return Viewer(login, password)


ANALYST = _login("DASHBOARD_TEST_ANALYST")
MANAGER = _login("DASHBOARD_TEST_MANAGER")


def _signed_in(viewer: Viewer) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.text_input[0].input(viewer.login)
    app.text_input[1].input(viewer.password)
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert not app.error, [error.value for error in app.error]
    return app


def _open(app: AppTest, page: str) -> AppTest:
    app.sidebar.radio[0].set_value(page).run()
    assert not app.exception, [exception.value for exception in app.exception]
    assert not app.error, [error.value for error in app.error]
    assert app.title[0].value == page
    return app


def _shown_stores(app: AppTest) -> set[str]:
    """Every store id in every table the page shows."""
    seen: set[str] = set()
    for frame in app.dataframe:
        data = frame.value
        if "store_id" in data.columns:
            seen |= set(data["store_id"].dropna())
    return seen


def test_a_wrong_password_is_told_so():
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.text_input[0].input(ANALYST.login)
    app.text_input[1].input("not the password")
    app.button[0].click().run()
    assert "Wrong login or password" in app.error[0].value
    assert "viewer" not in app.session_state


def test_the_loader_login_is_refused():
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.text_input[0].input(load_settings().postgres_user)
    app.text_input[1].input("whatever")
    app.button[0].click().run()
    assert "loader" in app.error[0].value


@pytest.mark.parametrize("page", list(PAGES))
def test_the_analyst_sees_every_store_on_every_page(page: str):
    app = _signed_in(ANALYST)
    assert app.sidebar.multiselect[0].value == ALL_STORES
    app = _open(app, page)
    if page in {"Store performance", "Inventory risk", "Alerts"}:
        assert _shown_stores(app) == set(ALL_STORES), page


@pytest.mark.parametrize("page", list(PAGES))
def test_a_store_manager_sees_only_their_stores_on_every_page(page: str):
    app = _signed_in(MANAGER)
    assert app.sidebar.multiselect[0].value == MANAGED
    assert len(app.sidebar.multiselect[0].options) == len(MANAGED)
    app = _open(app, page)
    assert _shown_stores(app) <= set(MANAGED), page
    if page in {"Store performance", "Inventory risk", "Alerts"}:
        assert _shown_stores(app) == set(MANAGED), page
    if page == "Pipeline health":
        assert "for analysts" in app.info[0].value


def test_pipeline_health_lists_held_bronze_objects_to_analysts():
    app = _open(_signed_in(ANALYST), "Pipeline health")
    held = [frame.value for frame in app.dataframe if "bronze_key" in frame.value.columns]
    assert held, [subheader.value for subheader in app.subheader]
    row = held[0][held[0]["bronze_key"] == os.environ["DASHBOARD_TEST_HELD_KEY"]]
    assert len(row) == 1
    assert row.iloc[0]["status"] == "held" and "event_id" in row.iloc[0]["reason"]
    assert row.iloc[0]["held_at"] is not None


def test_every_chart_has_its_numbers_as_a_table_and_a_csv():
    app = _open(_signed_in(ANALYST), "Store performance")
    assert len(app.get("download_button")) >= 3
    assert len(app.dataframe) >= 3
    figures = [subheader.value for subheader in app.subheader]
    assert "Revenue against target, store x day" in figures


def test_store_performance_shows_revenue_against_target():
    app = _open(_signed_in(ANALYST), "Store performance")
    revenue = app.metric[0]
    assert revenue.label == "Revenue today"
    assert "% of target" in revenue.delta
    per_store = app.dataframe[0].value
    assert set(per_store["target_source"]) == {"rule"}
    assert (per_store["revenue"] < per_store["revenue_target"]).all()


def test_customer_behaviour_ranks_pairs_by_lift():
    app = _open(_signed_in(ANALYST), "Customer behaviour")
    pairs = app.dataframe[0].value
    assert list(pairs["lift"]) == sorted(pairs["lift"], reverse=True)
    top = pairs.iloc[0]
    assert {top["sku"], top["paired_sku"]} == {"SKU-00001", "SKU-00002"}
    assert top["lift"] > 1


def test_a_store_manager_acknowledges_an_alert_and_it_is_recorded():
    app = _open(_signed_in(MANAGER), "Alerts")
    form_alerts = app.selectbox(key="ack-alert")
    waiting = form_alerts.options
    assert waiting and all(label.split()[1] in MANAGED for label in waiting)
    alert_id = int(form_alerts.value)
    app.text_input(key="ack-note").input("ordered 12 this morning")
    [submit] = [button for button in app.button if button.label == "Acknowledge"]
    submit.click().run()
    assert not app.error, [error.value for error in app.error]
    assert f"Alert #{alert_id} acknowledged" in app.success[0].value
    open_alerts = app.dataframe[1].value
    row = open_alerts[open_alerts["alert_id"] == alert_id].iloc[0]
    assert row["acknowledged"] and row["last_acknowledged_by"] == MANAGER.login

    history = Gold(load_settings(), MANAGER).read("alert_history", alert_id=alert_id)
    assert any(
        event.startswith("acknowledged at") and who == MANAGER.login
        for event, who in zip(history["event"], history["who"], strict=True)
    )


def test_a_store_manager_cannot_acknowledge_another_stores_alert():
    analyst = Gold(load_settings(), ANALYST)
    others = analyst.read("alert_episodes", stores=["S003"])
    alert = others[others["is_open"]].iloc[0]
    with pytest.raises(GoldError, match="cannot be acknowledged"):
        Gold(load_settings(), MANAGER).acknowledge(int(alert["alert_id"]), "S003", alert["severity"], None)


def test_reads_cannot_write():
    gold = Gold(load_settings(), ANALYST)
    with pytest.raises(GoldError):
        gold.read("acknowledge_alert", alert_id=1, store_id="S001", severity="critical", note=None)


def _charts(app: AppTest) -> list[dict]:
    """The Vega-Lite specs of the page's altair charts, in page order."""
    return [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]


def test_a_day_without_any_sale_is_a_gap_in_the_heatmap_not_a_day_below_target():
    app = _open(_signed_in(ANALYST), "Store performance")
    [grid] = [frame.value for frame in app.dataframe if "day_has_sales" in frame.value.columns]
    gap = pd.Timestamp(LAST_DAY) - pd.Timedelta(days=GAP_DAY)
    assert not grid[grid["business_date"] == gap]["day_has_sales"].any()
    assert grid[grid["business_date"] != gap]["day_has_sales"].all()
    heatmap = _charts(app)[1]
    marks = [layer["mark"] for layer in heatmap["layer"]]
    assert {"type": "rect", "color": "#bbbbbb"} in marks


def test_out_of_stock_skus_show_a_marker_in_the_stockout_colour():
    app = _open(_signed_in(ANALYST), "Inventory risk")
    at_risk = next(frame.value for frame in app.dataframe if "days_of_cover" in frame.value.columns)
    assert (at_risk.iloc[0]["days_of_cover"] == 0) and at_risk.iloc[0]["risk"] == "stockout"
    chart = _charts(app)[0]
    assert [layer["mark"]["type"] for layer in chart["layer"]] == ["bar", "point"]
    scale = chart["layer"][0]["encoding"]["color"]["scale"]
    assert scale["range"][scale["domain"].index("stockout")] == "#d62728"


def test_the_target_rule_is_the_same_weekday_of_the_four_weeks_before():
    app = _open(_signed_in(ANALYST), "Store performance")
    [grid] = [frame.value for frame in app.dataframe if "day_has_sales" in frame.value.columns]
    last = pd.Timestamp(LAST_DAY)
    for store, days in grid.groupby("store_id"):
        revenue = days.set_index("business_date")["revenue"]
        expected = round(sum(revenue[last - pd.Timedelta(weeks=weeks)] for weeks in range(1, 5)) / 4, 2)
        assert days[days["business_date"] == last]["revenue_target"].iloc[0] == expected, store
