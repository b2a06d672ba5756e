"""Gold as the viewer sees it: every query runs as the viewer's own PostgreSQL login.

Reads run in a read-only transaction with a statement timeout (DASHBOARD_STATEMENT_TIMEOUT_MS),
so a page can neither change gold nor hold a backend for long. The one write is an alert's
acknowledgement, its own short transaction through the single insert grant of
`alert_acknowledgements`, which row-level security checks as it does every read. The loader's
login (POSTGRES_USER) is never used here. Errors become `GoldError`s with a sentence for the user.
The connection, the read-only transaction and the refusals are shared with the read API
(`lakehouse.gold_access`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg2
from psycopg2 import errors

from lakehouse.config import Settings
from lakehouse.gold_access import (
    GoldAccessError,
    Role,
    Viewer,
    query,
    read_only,
    statement_problem,
    viewer_connection,
)

APPLICATION_NAME = "stock-lakehouse-dashboard"
QUERY_FOLDER = "dashboard"
# The dashboard's names for the shared ones (lakehouse.gold_access): pages and tests use these.
GoldError = GoldAccessError
__all__ = ["APPLICATION_NAME", "Gold", "GoldError", "Role", "Viewer"]


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
        self.timeout_ms = settings.dashboard.statement_timeout_ms
        self._shared = None

    @contextmanager
    def one_connection(self) -> Iterator[Gold]:
        """Every query of the block shares one connection as the viewer, each still in its own
        transaction: a page then signs in to PostgreSQL once per run, not once per query
        (scram-sha-256 and a new backend cost more than most of the pages' queries)."""
        with viewer_connection(self.settings, self.viewer, APPLICATION_NAME) as connection:
            self._shared = connection
            try:
                yield self
            finally:
                self._shared = None

    def _connection(self):
        if self._shared is not None:
            return nullcontext(self._shared)
        return viewer_connection(self.settings, self.viewer, APPLICATION_NAME)

    def _read_only(self, connection):
        return read_only(connection, self.viewer, self.schema, self.timeout_ms)

    def read(self, name: str, **parameters: Any) -> pd.DataFrame:
        """Rows of the query file `name` as a DataFrame, in a read-only transaction."""
        with self._connection() as connection, self._read_only(connection) as transaction:
            columns, rows = transaction.rows(QUERY_FOLDER, name, parameters)
        return _numeric(pd.DataFrame(rows, columns=columns))

    def role(self) -> Role:
        with self._connection() as connection, self._read_only(connection) as transaction:
            return transaction.role()

    def acknowledge(self, alert_id: int, store_id: str, severity: str, note: str | None) -> dict:
        """Record that the viewer acknowledged an open alert at its current severity."""
        statement = query(QUERY_FOLDER, "acknowledge_alert", self.schema)
        parameters = {"alert_id": alert_id, "store_id": store_id, "severity": severity, "note": note or None}
        with self._connection() as connection:
            try:
                with connection.cursor() as cursor:
                    timeout = str(self.timeout_ms)
                    cursor.execute("select set_config('statement_timeout', %s, true)", (timeout,))
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
                raise statement_problem(
                    error, "acknowledge_alert", self.viewer.login, self.schema, self.timeout_ms
                ) from None
        return dict(zip(columns, row, strict=True))
