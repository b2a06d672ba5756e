"""Gold's SQL lives in files under `sql/gold/`; `gold_sql` reads one and names the schema in it.

Files name the gold schema as psql variables do, `:"schema"` (an identifier) or `:'schema'` (a
literal), so a file runs by hand with `psql -v schema=gold -f sql/gold/...` and here for any
schema (tests give each module its own). Migrations, views, the load and the alerts all fill it
in with `render`, so there is one convention and one place that applies it.
"""

from __future__ import annotations

import re
from functools import cache

from lakehouse.config import REPO_ROOT

SQL_DIR = REPO_ROOT / "sql" / "gold"
# `:"schema"` and `:'schema'`, but not the `::` of a cast.
_IDENTIFIER = re.compile(r'(?<!:):"schema"')
_LITERAL = re.compile(r"(?<!:):'schema'")


def render(text: str, schema: str) -> str:
    """The SQL with the schema placeholders filled in (the schema name is checked by the caller)."""
    identifier = '"' + schema + '"'
    literal = "'" + schema + "'"
    return _LITERAL.sub(lambda _: literal, _IDENTIFIER.sub(lambda _: identifier, text))


@cache
def _text(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def gold_sql(name: str, schema: str) -> str:
    """The statement of `sql/gold/<name>.sql` (e.g. "load/merge_dim_store") for `schema`.

    Each file is read once per process: a statement's text is part of the code that runs it.
    """
    return render(_text(name), schema)
