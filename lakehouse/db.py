"""PostgreSQL connections from Settings: committed on success, rolled back on error, always closed.

psycopg2's own `with connection:` commits but never closes, which leaks a backend per call in
long-running processes such as the Mage server; this context manager does both.

Connections are the loader's (POSTGRES_USER) unless `owner=True`: only migrations, the stack's
bootstrap and `make gold-user` ask for the owner (README, Security).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions

from lakehouse.config import Settings, load_settings


@contextmanager
def connect(
    settings: Settings | None = None,
    *,
    dbname: str | None = None,
    autocommit: bool = False,
    connect_timeout: int = 10,
    owner: bool = False,
) -> Iterator[psycopg2.extensions.connection]:
    settings = settings or load_settings()
    loader = (settings.postgres_user, settings.postgres_password)
    user, password = settings.postgres_owner if owner else loader
    connection = psycopg2.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=dbname or settings.postgres_db,
        user=user,
        password=password,
        sslmode=settings.postgres_sslmode,
        connect_timeout=connect_timeout,
        application_name="stock-lakehouse",
    )
    connection.autocommit = autocommit
    try:
        yield connection
        if not autocommit:
            connection.commit()
    except BaseException as error:
        if not autocommit:
            _roll_back(connection, settings, error)
        raise
    finally:
        connection.close()


class ConnectionLostError(psycopg2.OperationalError):
    """PostgreSQL went away in the middle of a transaction; the message says what that left and what to do."""


def lost_connection_message(settings: Settings, error: BaseException) -> str:
    """What a transaction cut short by a lost server means for the user, and what to do."""
    said = (str(error).strip() or type(error).__name__).splitlines()[0]
    where = f"{settings.postgres_host}:{settings.postgres_port}, database {settings.postgres_db}"
    return (
        f"the connection to PostgreSQL ({where}) was lost in the middle of a transaction: {said}. "
        "PostgreSQL commits nothing of a transaction it did not finish, so none of this transaction's "
        "writes are in the database and there is nothing to clean up. Check that PostgreSQL runs "
        "(`make status`; `make up` starts it again), then run this step again (or leave it to its "
        "schedule): it starts over from what was committed before."
    )


def _roll_back(connection, settings: Settings, error: BaseException) -> None:
    """Roll back after `error`; when the server is gone, say so instead of 'connection already closed'."""
    if not connection.closed:
        try:
            connection.rollback()
            return
        except psycopg2.Error:
            if not connection.closed:
                raise
    if isinstance(error, Exception) and not isinstance(error, ConnectionLostError):
        raise ConnectionLostError(lost_connection_message(settings, _database_error(error))) from error


def _database_error(error: BaseException) -> BaseException:
    """The psycopg2 error behind `error` (psycopg2's COPY wraps a lost server in a SystemError)."""
    seen = error
    while seen is not None and not isinstance(seen, psycopg2.Error):
        seen = seen.__cause__ or seen.__context__
    return seen or error
