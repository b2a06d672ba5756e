"""The read API's routes: stores, a store's stock positions, open alerts, a store-SKU's forecast,
the reorder list, and tokens. `create_app()` is what uvicorn serves (`python -m api`).

Each request opens a connection as the caller's login, checks in the same read-only transaction
that the login is a gold viewer (not the loader, not a superuser), runs its query files and rolls
back. Status codes: 401 no or wrong credentials, 403 a login that may not view gold, 404 a store
(or store-SKU) that is unknown or not the caller's, 422 bad parameters or cursor, 503 gold not
reachable, not migrated or too slow; never a stack trace (it goes to the log).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBearer

from api import pagination
from api.auth import TokenStore, Unauthenticated, caller
from api.models import (
    AlertKind,
    AlertPage,
    Forecast,
    Problem,
    ReorderPage,
    Risk,
    Severity,
    StockPage,
    Store,
    StorePage,
    Token,
)
from api.pool import ConnectionPool
from lakehouse.config import Settings, load_settings
from lakehouse.gold_access import (
    CREDENTIALS,
    REFUSED,
    GoldAccessError,
    ReadOnly,
    Viewer,
    open_viewer_connection,
    read_only,
    refusal,
)

APPLICATION_NAME = "stock-lakehouse-api"
QUERIES = "api"
STATUS_OF_KIND = {CREDENTIALS: 401, REFUSED: 403, "timeout": 503, "unreachable": 503, "missing": 503}
CHALLENGE = {"WWW-Authenticate": 'Basic realm="stock-lakehouse", Bearer'}
log = logging.getLogger("api")

# Shown in /docs and the OpenAPI schema; the credentials are read from the header by `caller`.
BASIC = HTTPBasic(auto_error=False, description="your own PostgreSQL login and password")
BEARER = HTTPBearer(auto_error=False, description="a token from POST /tokens")
AUTHENTICATED = [Security(BASIC), Security(BEARER)]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in {
        401: "no or wrong credentials",
        403: "a login that bypasses row-level security or holds no gold role",
        404: "unknown, or not one of the caller's stores",
        503: "gold is not reachable, not migrated, or the query ran past the statement timeout",
    }.items()
}

PageSize = Annotated[int, Query(ge=1, le=pagination.MAX_PAGE_SIZE, description="rows per page")]
Cursor = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")]
StoreId = Annotated[str, Path(min_length=1, max_length=64, description="a store id, e.g. S001")]


class NotFound(Exception):
    """A store or store-SKU the caller cannot see (unknown and invisible look the same)."""


class Api:
    """The settings and token store behind the routes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.schema = settings.gold.schema
        self.timeout_ms = settings.api.statement_timeout_ms
        self.tokens = TokenStore(settings.api.token_ttl_seconds)
        self.pool = ConnectionPool(
            lambda viewer: open_viewer_connection(settings, viewer, APPLICATION_NAME),
            per_login=settings.api.pool_per_login,
            idle_seconds=settings.api.pool_idle_seconds,
        )

    def viewer(self, request: Request) -> Viewer:
        return caller(request.headers.get("authorization"), self.tokens)

    @contextmanager
    def gold(self, request: Request) -> Iterator[ReadOnly]:
        """A read-only transaction as the caller, who must be a gold viewer."""
        viewer = self.viewer(request)
        with (
            self.pool.connection(viewer) as connection,
            read_only(connection, viewer, self.schema, self.timeout_ms) as transaction,
        ):
            problem = refusal(transaction.role())
            if problem:
                raise GoldAccessError(problem, REFUSED)
            yield transaction


def records(transaction: ReadOnly, name: str, **parameters: Any) -> list[dict]:
    columns, rows = transaction.rows(QUERIES, name, parameters)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def visible_store(transaction: ReadOnly, store_id: str) -> dict:
    rows = records(transaction, "stores", store_id=store_id, after_store_id=None, page_size=1)
    if not rows:
        raise NotFound(f"store {store_id} is unknown or not one of yours")
    return rows[0]


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    api = Api(settings or load_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        api.pool.close()  # idle connections end with the server, not with PostgreSQL's timeout

    app = FastAPI(
        lifespan=lifespan,
        title="stock-lakehouse read API",
        version="1.0.0",
        description=(
            "Gold's stores, stock positions, open alerts, forecasts and reorder list, as your own "
            "PostgreSQL login sees them (row-level security). Sign in with HTTP basic, or get a "
            "bearer token from POST /tokens. Lists are keyset-paginated: pass `next_cursor` back "
            "as `cursor`."
        ),
    )

    @app.exception_handler(Unauthenticated)
    def unauthenticated(request: Request, error: Unauthenticated) -> JSONResponse:
        return _problem(401, str(error), CHALLENGE)

    @app.exception_handler(GoldAccessError)
    def gold_problem(request: Request, error: GoldAccessError) -> JSONResponse:
        status = STATUS_OF_KIND.get(error.kind, 500)
        if status == 500:
            log.error("gold read failed: %s", error)
        return _problem(status, str(error), CHALLENGE if status == 401 else None)

    @app.exception_handler(NotFound)
    def not_found(request: Request, error: NotFound) -> JSONResponse:
        return _problem(404, str(error))

    @app.exception_handler(pagination.BadCursor)
    def bad_cursor(request: Request, error: pagination.BadCursor) -> JSONResponse:
        return _problem(422, str(error))

    @app.exception_handler(Exception)
    def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _problem(500, "the API failed unexpectedly; its log (make logs) says why")

    @app.get("/health", tags=["service"], summary="the process answers (no sign-in, no database)")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/tokens",
        response_model=Token,
        tags=["sign-in"],
        dependencies=[Security(BASIC)],
        responses={code: ERRORS[code] for code in (401, 403, 503)},
        summary="a bearer token standing for your login (send HTTP basic)",
    )
    def issue_token(request: Request) -> Token:
        if not request.headers.get("authorization", "").lower().startswith("basic "):
            raise Unauthenticated("POST /tokens takes HTTP basic with your PostgreSQL login and password")
        with api.gold(request) as transaction:
            login = transaction.viewer.login
        issued = api.tokens.issue(api.viewer(request))
        expires = dt.datetime.fromtimestamp(issued.expires_at, dt.UTC)
        return Token(access_token=issued.token, login=login, expires_at=expires)

    @app.get(
        "/stores",
        response_model=StorePage,
        tags=["gold"],
        dependencies=AUTHENTICATED,
        responses={code: ERRORS[code] for code in (401, 403, 503)},
        summary="the stores you may see, by store id",
    )
    def stores(request: Request, limit: PageSize = pagination.DEFAULT_PAGE_SIZE, cursor: Cursor = None):
        (after,) = pagination.decode(cursor, (str,)) if cursor else (None,)
        with api.gold(request) as transaction:
            rows = records(transaction, "stores", store_id=None, after_store_id=after, page_size=limit + 1)
        items, next_cursor = pagination.page(rows, limit, lambda row: [row["store_id"]])
        return {"items": items, "next_cursor": next_cursor}

    @app.get(
        "/stores/{store_id}",
        response_model=Store,
        tags=["gold"],
        dependencies=AUTHENTICATED,
        responses=ERRORS,
        summary="one store",
    )
    def store(request: Request, store_id: StoreId):
        with api.gold(request) as transaction:
            return visible_store(transaction, store_id)

    @app.get(
        "/stores/{store_id}/stock",
        response_model=StockPage,
        tags=["gold"],
        dependencies=AUTHENTICATED,
        responses=ERRORS,
        summary="a store's stock positions now, by SKU, filtered",
    )
    def stock(
        request: Request,
        store_id: StoreId,
        risk: Annotated[Risk | None, Query(description="only this risk")] = None,
        category: Annotated[str | None, Query(max_length=200, description="only this category")] = None,
        min_probability: Annotated[
            float | None, Query(ge=0, le=1, description="only a stockout probability at or above this")
        ] = None,
        limit: PageSize = pagination.DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ):
        (after,) = pagination.decode(cursor, (str,)) if cursor else (None,)
        with api.gold(request) as transaction:
            visible_store(transaction, store_id)
            if min_probability is not None:
                (row,) = records(transaction, "has_probability")
                if not row["has_probability"]:
                    raise GoldAccessError(
                        "gold has no stockout_probability yet (migration 023 and its view): "
                        "run `make gold-migrate`, or leave out min_probability",
                        "missing",
                    )
            rows = records(
                transaction,
                "stock_positions",
                store_id=store_id,
                risk=risk,
                category=category,
                min_probability=min_probability,
                after_sku=after,
                page_size=limit + 1,
            )
        items, next_cursor = pagination.page(rows, limit, lambda row: [row["sku"]])
        return {"items": items, "next_cursor": next_cursor}

    @app.get(
        "/stores/{store_id}/forecast/{sku}",
        response_model=Forecast,
        tags=["gold"],
        dependencies=AUTHENTICATED,
        responses=ERRORS,
        summary="a store-SKU's daily demand forecast from the latest load",
    )
    def forecast(request: Request, store_id: StoreId, sku: Annotated[str, Path(min_length=1, max_length=64)]):
        with api.gold(request) as transaction:
            visible_store(transaction, store_id)
            rows = records(transaction, "forecast", store_id=store_id, sku=sku)
        if not rows:
            raise NotFound(f"store {store_id} has no forecast for {sku}")
        return {"store_id": store_id, "sku": sku, "days": rows}

    @app.get(
        "/alerts",
        response_model=AlertPage,
        tags=["gold"],
        dependencies=AUTHENTICATED,
        responses=ERRORS,
        summary="open alerts of your stores, most severe first",
    )
    def alerts(
        request: Request,
        store_id: Annotated[
            str | None, Query(min_length=1, max_length=64, description="only this store")
        ] = None,
        severity: Annotated[Severity | None, Query(description="only this severity")] = None,
        kind: Annotated[AlertKind | None, Query(description="only this kind")] = None,
        limit: PageSize = pagination.DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ):
        rank, alert_id = pagination.decode(cursor, (int, int)) if cursor else (None, None)
        with api.gold(request) as transaction:
            if store_id is not None:
                visible_store(transaction, store_id)
            rows = records(
                transaction,
                "open_alerts",
                store_id=store_id,
                severity=severity,
                kind=kind,
                after_severity_rank=rank,
                after_alert_id=alert_id,
                page_size=limit + 1,
            )
        items, next_cursor = pagination.page(rows, limit, lambda row: [row["severity_rank"], row["alert_id"]])
        return {"items": items, "next_cursor": next_cursor}

    @app.get(
        "/reorder-list",
        response_model=ReorderPage,
        tags=["gold"],
        dependencies=AUTHENTICATED,
        responses=ERRORS,
        summary="what to order today: positions at or below their reorder point, by store and SKU",
    )
    def reorder_list(
        request: Request,
        store_id: Annotated[
            str | None, Query(min_length=1, max_length=64, description="only this store")
        ] = None,
        limit: PageSize = pagination.DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ):
        after_store, after_sku = pagination.decode(cursor, (str, str)) if cursor else (None, None)
        with api.gold(request) as transaction:
            if store_id is not None:
                visible_store(transaction, store_id)
            rows = records(
                transaction,
                "reorder_list",
                store_id=store_id,
                after_store_id=after_store,
                after_sku=after_sku,
                page_size=limit + 1,
            )
        items, next_cursor = pagination.page(rows, limit, lambda row: [row["store_id"], row["sku"]])
        return {"items": items, "next_cursor": next_cursor}

    return app
