"""The dashboard's SQL: files in sql/gold/queries/dashboard/, never strings in page code.

Files name the gold schema as `:"schema"`, as migrations and views do, so psql runs them with
`psql -v schema=gold` (`make psql` sets it) and tests point them at a schema of their own.
"""

from __future__ import annotations

import re
from functools import cache

from lakehouse.config import REPO_ROOT, check_schema_name

QUERIES_DIR = REPO_ROOT / "sql" / "gold" / "queries" / "dashboard"
_IDENTIFIER = re.compile(r'(?<!:):"schema"')


@cache
def _text(name: str) -> str:
    path = QUERIES_DIR / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no query file {path}")
    return path.read_text()


def query(name: str, schema: str) -> str:
    """The statement of sql/gold/queries/dashboard/<name>.sql for `schema`."""
    identifier = '"' + check_schema_name(schema) + '"'
    return _IDENTIFIER.sub(lambda _: identifier, _text(name))
