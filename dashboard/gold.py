"""Gold as the viewer sees it: every query runs as the viewer's own PostgreSQL login.

Reads run in a read-only transaction with a statement timeout (DASHBOARD_STATEMENT_TIMEOUT_MS),
so a page can neither change gold nor hold a backend for long. The one write is an alert's
acknowledgement, its own short transaction through the single insert grant of
`alert_acknowledgements`, which row-level security checks as it does every read. The loader's
login (POSTGRES_USER) is never used here. Errors become `GoldError`s with a sentence for the user.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg2
import psycopg2.extensions
from psycopg2 import errors

from dashboard.queries import query
from lakehouse.config import Settings

APPLICATION_NAME = "stock-lakehouse-dashboard"


class GoldError(RuntimeError):
    """A query could not run; the message says why in words a store manager understands."""


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a PostgreSQL login and its password (kept only in the browser session)."""

    login: str
    password: str


@dataclass(frozen=True)
class Role:
    login: str
    is_analyst: bool
    is_store_manager: bool
    bypasses_row_security: bool


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """numeric columns arrive as Decimal objects: floats chart and sort as numbers."""
    for column in frame.columns:
        values = frame[column].dropna()
        if len(values) and isinstance(values.iloc[0], Decimal):
            frame[column] = frame[column].astype(float)
    return frame


class Gold:
    """Queries of sql/gold/queries/dashboard/ for one viewer."""

    def __init__(self, settings: Settings, viewer: Viewer) -> None:
        self.settings = settings
        self.viewer = viewer
        self.schema = settings.gold.schema

    @contextmanager
    def _connection(self):
        try:
            connection = psycopg2.connect(
                host=self.settings.postgres_host,
                port=self.settings.postgres_port,
                dbname=self.settings.postgres_db,
                user=self.viewer.login,
                password=self.viewer.password,
                connect_timeout=5,
                application_name=APPLICATION_NAME,
            )
        except psycopg2.OperationalError as error:
            raise GoldError(self._connect_problem(error)) from None
        try:
            yield connection
        finally:
            connection.close()

    def _connect_problem(self, error: psycopg2.OperationalError) -> str:
        text = str(error)
        if "password authentication failed" in text or "does not exist" in text:
            return "Wrong login or password. Use your own PostgreSQL login (ask your analyst for one)."
        where = f"{self.settings.postgres_host}:{self.settings.postgres_port}"
        return f"PostgreSQL does not answer at {where}: start the stack with `make up`. ({text.strip()})"

    def _problem(self, error: psycopg2.Error, name: str) -> str:
        if isinstance(error, errors.QueryCanceled):
            seconds = self.settings.dashboard.statement_timeout_ms / 1000
            return (
                f"The query '{name}' took longer than {seconds:g} s and was stopped. Choose fewer stores, "
                "or try again when the nightly load is over."
            )
        if isinstance(error, errors.InsufficientPrivilege):
            return (
                f"Your login {self.viewer.login} may not read '{name}': it needs the role gold_analyst or "
                f"gold_store_manager. ({error.pgerror.strip() if error.pgerror else error})"
            )
        if isinstance(error, errors.UndefinedTable | errors.UndefinedFunction | errors.UndefinedColumn):
            return (
                f"Gold in schema {self.schema} lacks what '{name}' reads: run `make gold-migrate`. "
                f"({str(error).strip().splitlines()[0]})"
            )
        if isinstance(error, errors.InvalidSchemaName):
            return f"There is no gold schema {self.schema} yet: run `make gold-migrate`."
        return f"The query '{name}' failed: {str(error).strip().splitlines()[0]}"

    def read(self, name: str, **parameters: Any) -> pd.DataFrame:
        """Rows of the query file `name` as a DataFrame, in a read-only transaction."""
        statement = query(name, self.schema)
        with self._connection() as connection:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("set transaction read only")
                    cursor.execute(
                        "select set_config('statement_timeout', %s, true)",
                        (str(self.settings.dashboard.statement_timeout_ms),),
                    )
                    cursor.execute(statement, parameters)
                    columns = [column.name for column in cursor.description]
                    rows = cursor.fetchall()
            except psycopg2.Error as error:
                raise GoldError(self._problem(error, name)) from None
            finally:
                connection.rollback()
        return _numeric(pd.DataFrame(rows, columns=columns))

    def role(self) -> Role:
        frame = self.read("viewer")
        row = frame.iloc[0]
        return Role(
            str(row["login"]),
            bool(row["is_analyst"]),
            bool(row["is_store_manager"]),
            bool(row["bypasses_row_security"]),
        )

    def acknowledge(self, alert_id: int, store_id: str, severity: str, note: str | None) -> dict:
        """Record that the viewer acknowledged an open alert at its current severity."""
        statement = query("acknowledge_alert", self.schema)
        parameters = {"alert_id": alert_id, "store_id": store_id, "severity": severity, "note": note or None}
        with self._connection() as connection:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "select set_config('statement_timeout', %s, true)",
                        (str(self.settings.dashboard.statement_timeout_ms),),
                    )
                    cursor.execute(statement, parameters)
                    columns = [column.name for column in cursor.description]
                    row = cursor.fetchone()
                connection.commit()
            except errors.InsufficientPrivilege:
                connection.rollback()
                raise GoldError(
                    f"Alert {alert_id} cannot be acknowledged by {self.viewer.login}: it is not one of your "
                    "stores' open alerts at this severity any more (refresh the page)."
                ) from None
            except psycopg2.Error as error:
                connection.rollback()
                raise GoldError(self._problem(error, "acknowledge_alert")) from None
        return dict(zip(columns, row, strict=True))
