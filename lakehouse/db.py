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
    except BaseException:
        if not autocommit:
            connection.rollback()
        raise
    finally:
        connection.close()
