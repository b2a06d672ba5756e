"""A gold schema of a test's own: migrated like `make gold-migrate`, dropped when the test ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg2 import sql

from lakehouse.config import Settings
from lakehouse.db import connect
from spark_jobs.gold.migrate import migrate


def drop_schema(settings: Settings, schema: str) -> None:
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


@contextmanager
def migrated_gold(settings: Settings, prefix: str) -> Iterator[str]:
    """A fresh schema named `<prefix><random>` with every gold migration and view applied."""
    schema = f"{prefix}{uuid.uuid4().hex[:10]}"
    migrate(settings, schema, log=lambda message: None)
    try:
        yield schema
    finally:
        drop_schema(settings, schema)
