"""The read API against a real gold, as an analyst and a store manager login, through real uvicorn.

The gold is the dashboard tests' (tests/support/dashboard_gold.py: stores S001-S003, the manager
sees S001 and S002) plus a forecast; the API runs under .venv-api exactly as `make up` starts it.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from psycopg2 import sql

from lakehouse.config import Settings
from lakehouse.db import connect
from tests.support.api_server import api_server
from tests.support.dashboard_gold import MANAGED, STORES, DashboardGold, Login, build, drop

pytestmark = pytest.mark.integration

FORECAST_DAYS = 14


def _execute(settings: Settings, schema: str, statement: str, parameters=None) -> None:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}, public").format(sql.Identifier(schema)))
        cursor.execute(statement, parameters)


def _has_probability(settings: Settings, schema: str) -> bool:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select exists (select from information_schema.columns where table_schema = %s "
            "and table_name = 'stock_position' and column_name = 'stockout_probability')",
            (schema,),
        )
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def gold(postgres: Settings) -> Iterator[DashboardGold]:
    built = build(postgres)
    _execute(
        postgres,
        built.schema,
        "insert into stock_forecast (store_id, sku, forecast_date, forecast_units, as_of) "
        "select store_id, 'SKU-00001', date '2026-11-22' + day, 3 + day %% 2, "
        "timestamptz '2026-11-22 20:00Z' "
        "from unnest(%s::text[]) as store (store_id) cross join generate_series(1, %s) as day",
        (list(STORES), FORECAST_DAYS),
    )
    if _has_probability(postgres, built.schema):
        _execute(
            postgres,
            built.schema,
            "update stock_position set stockout_probability = case sku when 'SKU-00001' then 0.9 "
            "when 'SKU-00002' then 0.5 else 0.01 end",
        )
        _execute(
            postgres,
            built.schema,
            "update stock_position set stockout_probability_raw = 0.7, "
            "calibration_fitted_on = date '2026-11-22', calibration_rows = 1234 where sku = 'SKU-00001'",
        )
    yield built
    drop(postgres, built)


@pytest.fixture(scope="module")
def api(postgres: Settings, gold: DashboardGold, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("api") / "api.log"
    with api_server(postgres, gold.schema, log) as url:
        yield url


def client(url: str, login: Login | None = None) -> httpx.Client:
    auth = (login.user, login.password) if login else None
    return httpx.Client(base_url=url, auth=auth, timeout=10)


def _skus(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["sku"] for item in response.json()["items"]]


def test_docs_and_schema_are_served(api: str):
    with client(api) as anonymous:
        assert anonymous.get("/docs").status_code == 200
        paths = anonymous.get("/openapi.json").json()["paths"]
    assert {"/stores", "/stores/{store_id}/stock", "/alerts", "/reorder-list", "/tokens"} <= set(paths)
    assert "/stores/{store_id}/forecast/{sku}" in paths


def test_row_level_security_decides_the_stores(api: str, gold: DashboardGold):
    with client(api, gold.analyst) as analyst, client(api, gold.manager) as manager:
        assert [s["store_id"] for s in analyst.get("/stores").json()["items"]] == list(STORES)
        assert [s["store_id"] for s in manager.get("/stores").json()["items"]] == list(MANAGED)
        assert analyst.get("/stores/S003").json()["store_name"] == STORES["S003"][0]
        assert manager.get("/stores/S003").status_code == 404
        assert {a["store_id"] for a in analyst.get("/alerts").json()["items"]} == {"S001", "S002", "S003"}
        assert {a["store_id"] for a in manager.get("/alerts").json()["items"]} == set(MANAGED)
        reorder = manager.get("/reorder-list").json()["items"]
        assert {(r["store_id"], r["sku"]) for r in reorder} == {
            (store, sku) for store in MANAGED for sku in ("SKU-00001", "SKU-00002")
        }
        assert len(analyst.get("/reorder-list").json()["items"]) == 6
        assert manager.get("/stores/S003/forecast/SKU-00001").status_code == 404
        days = manager.get("/stores/S001/forecast/SKU-00001").json()["days"]
    assert len(days) == FORECAST_DAYS and days[0]["forecast_date"] == "2026-11-23"


def test_stock_positions_filter_by_risk_category_and_probability(
    api: str, gold: DashboardGold, postgres: Settings
):
    with client(api, gold.manager) as manager:
        assert _skus(manager.get("/stores/S001/stock")) == [
            "SKU-00001",
            "SKU-00002",
            "SKU-00003",
            "SKU-00004",
        ]
        assert _skus(manager.get("/stores/S001/stock", params={"risk": "stockout"})) == ["SKU-00001"]
        assert _skus(manager.get("/stores/S002/stock", params={"category": "dairy"})) == ["SKU-00002"]
        by_probability = manager.get("/stores/S001/stock", params={"min_probability": 0.5})
    if _has_probability(postgres, gold.schema):
        assert _skus(by_probability) == ["SKU-00001", "SKU-00002"]
        assert [item["stockout_probability"] for item in by_probability.json()["items"]] == [0.9, 0.5]
        calibrated = by_probability.json()["items"][0]
        assert (calibrated["stockout_probability_raw"], calibrated["calibration_fitted_on"]) == (
            0.7,
            "2026-11-22",
        )
        assert calibrated["calibration_rows"] == 1234
        assert by_probability.json()["items"][1]["stockout_probability_raw"] is None
    else:
        assert by_probability.status_code == 503
        assert "stockout_probability" in by_probability.json()["detail"]


def test_alert_filters(api: str, gold: DashboardGold):
    with client(api, gold.analyst) as analyst:
        critical = analyst.get("/alerts", params={"severity": "critical"}).json()["items"]
        assert {(a["store_id"], a["sku"]) for a in critical} == {("S001", "SKU-00001"), ("S003", "SKU-00001")}
        assert [
            a["store_id"] for a in analyst.get("/alerts", params={"store_id": "S002"}).json()["items"]
        ] == ["S002"]
        ranks = [a["severity_rank"] for a in analyst.get("/alerts").json()["items"]]
    assert ranks == sorted(ranks, reverse=True)


def _basic(login: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Digest abc"},
        {"Authorization": "Bearer made-up-token"},
        _basic("no_such_login_x", "whatever"),
    ],
    ids=["none", "malformed-basic", "other-scheme", "unknown-token", "unknown-login"],
)
def test_no_or_wrong_credentials_are_401(api: str, headers: dict[str, str]):
    with client(api) as anonymous:
        response = anonymous.get("/stores", headers=headers)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert set(response.json()) == {"detail"}


def test_wrong_password_is_401(api: str, gold: DashboardGold):
    with client(api) as anonymous:
        response = anonymous.get("/stores/S001/stock", headers=_basic(gold.manager.user, "wrong"))
    assert response.status_code == 401
    assert "Traceback" not in response.text


def test_the_loader_login_is_refused(api: str, postgres: Settings):
    with client(api) as anonymous:
        response = anonymous.get(
            "/stores", headers=_basic(postgres.postgres_user, postgres.postgres_password)
        )
    assert response.status_code == 403
    assert "loader" in response.json()["detail"]


def test_unknown_and_invisible_are_404(api: str, gold: DashboardGold):
    with client(api, gold.manager) as manager:
        for path in (
            "/stores/S999",
            "/stores/S003",
            "/stores/S003/stock",
            "/stores/S999/forecast/SKU-00001",
            "/stores/S001/forecast/SKU-99999",
        ):
            response = manager.get(path)
            assert response.status_code == 404, path
            assert set(response.json()) == {"detail"}
        assert manager.get("/alerts", params={"store_id": "S003"}).status_code == 404
        assert manager.get("/reorder-list", params={"store_id": "S003"}).status_code == 404


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/stores", {"limit": 0}),
        ("/stores", {"limit": 100_000}),
        ("/stores", {"cursor": "not a cursor"}),
        ("/alerts", {"cursor": "WyJTMDAxIl0"}),  # a /stores cursor: ["S001"]
        ("/alerts", {"severity": "dreadful"}),
        ("/stores/S001/stock", {"risk": "maybe"}),
        ("/stores/S001/stock", {"min_probability": 1.5}),
        ("/stores/S001/stock", {"min_probability": "high"}),
        ("/reorder-list", {"cursor": "W10"}),  # []
    ],
)
def test_bad_parameters_are_422(api: str, gold: DashboardGold, path: str, params: dict):
    with client(api, gold.analyst) as analyst:
        response = analyst.get(path, params=params)
    assert response.status_code == 422, response.text
    assert "Traceback" not in response.text


def test_a_token_stands_for_its_login(api: str, gold: DashboardGold):
    with client(api, gold.manager) as manager:
        issued = manager.post("/tokens")
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    with client(api) as anonymous:
        assert [s["store_id"] for s in anonymous.get("/stores", headers=bearer).json()["items"]] == list(
            MANAGED
        )
        assert anonymous.get("/stores/S003", headers=bearer).status_code == 404
        assert anonymous.post("/tokens", headers=bearer).status_code == 401
        assert anonymous.post("/tokens", headers=_basic(gold.manager.user, "wrong")).status_code == 401


def test_pagination_is_stable_under_inserts(api: str, gold: DashboardGold, postgres: Settings):
    """Rows inserted before the cursor do not shift the next page; rows after it appear in order."""
    with client(api, gold.analyst) as analyst:
        first = analyst.get("/stores/S003/stock", params={"limit": 2}).json()
        assert [item["sku"] for item in first["items"]] == ["SKU-00001", "SKU-00002"]
        for sku in ("SKU-00000", "SKU-00005"):
            _execute(
                postgres,
                gold.schema,
                "create temporary table copied on commit drop as "
                "select * from stock_position where store_id = 'S003' and sku = 'SKU-00003'; "
                "update copied set sku = %(sku)s; insert into stock_position select * from copied",
                {"sku": sku},
            )
        second = analyst.get("/stores/S003/stock", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        third = analyst.get("/stores/S003/stock", params={"limit": 2, "cursor": second["next_cursor"]}).json()
        stores = analyst.get("/stores", params={"limit": 1}).json()
        rest = analyst.get("/stores", params={"limit": 2, "cursor": stores["next_cursor"]}).json()
        alerts = [analyst.get("/alerts", params={"limit": 1}).json()]
        while alerts[-1]["next_cursor"]:
            alerts.append(
                analyst.get("/alerts", params={"limit": 1, "cursor": alerts[-1]["next_cursor"]}).json()
            )
    assert [item["sku"] for item in second["items"]] == ["SKU-00003", "SKU-00004"]
    assert [item["sku"] for item in third["items"]] == ["SKU-00005"] and third["next_cursor"] is None
    assert [s["store_id"] for s in stores["items"] + rest["items"]] == list(STORES)
    walked = [item["alert_id"] for page in alerts for item in page["items"]]
    with client(api, gold.analyst) as analyst:
        assert walked == [item["alert_id"] for item in analyst.get("/alerts").json()["items"]]


def test_a_query_past_the_statement_timeout_is_503(postgres: Settings, gold: DashboardGold, tmp_path):
    with (
        api_server(postgres, gold.schema, tmp_path / "api.log", API_STATEMENT_TIMEOUT_MS="200") as url,
        connect(postgres) as locker,
        locker.cursor() as cursor,
    ):
        table = sql.SQL("lock table {}.stock_position in access exclusive mode")
        cursor.execute(table.format(sql.Identifier(gold.schema)))
        with client(url, gold.analyst) as analyst:
            response = analyst.get("/stores/S001/stock")
        locker.rollback()
    assert response.status_code == 503
    assert "took longer than 0.2 s" in response.json()["detail"]


def _database_now(settings: Settings):
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute("select clock_timestamp()")
        return cursor.fetchone()[0]


def _api_connections(settings: Settings, login: str, since) -> int:
    """The API connections of `login` opened since `since` (the module's own API server has older ones)."""
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select count(*) from pg_stat_activity "
            "where usename = %s and application_name = %s and backend_start >= %s",
            (login, "stock-lakehouse-api", since),
        )
        return cursor.fetchone()[0]


def _set_password(settings: Settings, login: str, password: str) -> None:
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("alter role {} password %s").format(sql.Identifier(login)), (password,))


def test_a_login_s_requests_share_one_open_connection(gold: DashboardGold, postgres: Settings, tmp_path):
    """Connecting as the login costs more than the query: one connection serves request after request."""
    since = _database_now(postgres)
    with api_server(postgres, gold.schema, tmp_path / "api.log") as url:
        with client(url, gold.manager) as manager:
            for _ in range(10):
                assert manager.get("/stores").status_code == 200
        assert _api_connections(postgres, gold.manager.user, since) == 1
    assert _api_connections(postgres, gold.manager.user, since) == 0  # closed with the server


def test_a_pooled_connection_is_never_lent_to_a_wrong_password(api: str, gold: DashboardGold):
    with client(api, gold.manager) as manager:
        assert manager.get("/stores").status_code == 200
    wrong = Login(gold.manager.user, gold.manager.password + "x")
    with client(api, wrong) as impostor:
        assert impostor.get("/stores").status_code == 401


def test_a_changed_password_stops_working_once_the_idle_connection_closes(
    gold: DashboardGold, postgres: Settings, tmp_path
):
    since = _database_now(postgres)
    with api_server(postgres, gold.schema, tmp_path / "api.log", API_POOL_IDLE_SECONDS="1") as url:
        with client(url, gold.analyst) as analyst:
            assert analyst.get("/stores").status_code == 200
        new_password = uuid.uuid4().hex
        _set_password(postgres, gold.analyst.user, new_password)
        try:
            time.sleep(3)  # the sweeper closes connections idle for more than a second
            assert _api_connections(postgres, gold.analyst.user, since) == 0
            with client(url, gold.analyst) as old:
                assert old.get("/stores").status_code == 401
            with client(url, Login(gold.analyst.user, new_password)) as renewed:
                assert renewed.get("/stores").status_code == 200
        finally:
            _set_password(postgres, gold.analyst.user, gold.analyst.password)
