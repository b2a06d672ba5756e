"""Gold as one PostgreSQL login sees it: the dashboard's and the read API's way in.

Every read runs as the caller's own login, never the loader's (POSTGRES_USER), so gold's
row-level security decides what it sees exactly as in psql. A read is one read-only transaction
with a statement timeout: a caller can neither change gold nor hold a backend for long. A login
that bypasses row-level security (a superuser, the loader) or holds neither gold role is refused.
Statements are files in sql/gold/queries/<folder>/ that name the schema as `:"schema"`; failures
become `GoldAccessError`s with a sentence for the caller and a `kind` a program can act on.

Needs only the standard library and psycopg2: the dashboard and the API import it from their own
virtualenvs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import errors

from lakehouse.config import REPO_ROOT, Settings, check_schema_name

QUERIES_DIR = REPO_ROOT / "sql" / "gold" / "queries"
# Who is looking (login, gold roles, whether it bypasses row-level security): one row.
ROLE_QUERY = ("access", "viewer")
_SCHEMA_PLACEHOLDER = re.compile(r'(?<!:):"schema"')

# GoldAccessError kinds.
CREDENTIALS = "credentials"  # no such login, or a wrong password
UNREACHABLE = "unreachable"  # PostgreSQL does not answer
REFUSED = "refused"  # the login may not read gold this way (bypasses row security, no gold role)
TIMEOUT = "timeout"  # the statement ran past the timeout
MISSING = "missing"  # gold lacks a table, view, column or the schema: not migrated
FAILED = "failed"  # anything else


class GoldAccessError(RuntimeError):
    """A read could not run; the message says why in words a store manager understands."""

    def __init__(self, message: str, kind: str = FAILED) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Viewer:
    """Who is reading: a PostgreSQL login and its password (never stored by the project)."""

    login: str
    password: str


@dataclass(frozen=True)
class Role:
    login: str
    is_analyst: bool
    is_store_manager: bool
    bypasses_row_security: bool


@cache
def _query_file(folder: str, name: str) -> str:
    path = QUERIES_DIR / folder / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no query file {path}")
    return path.read_text()


def query(folder: str, name: str, schema: str) -> str:
    """The statement of sql/gold/queries/<folder>/<name>.sql for `schema`."""
    identifier = '"' + check_schema_name(schema) + '"'
    return _SCHEMA_PLACEHOLDER.sub(lambda _: identifier, _query_file(folder, name))


def refusal(role: Role) -> str | None:
    """Why a login may not read gold as a viewer, or None."""
    if role.bypasses_row_security:
        return (
            f"{role.login} bypasses row-level security (a superuser or the loader): "
            "sign in with your own login."
        )
    if not (role.is_analyst or role.is_store_manager):
        return (
            f"{role.login} has neither gold_analyst nor gold_store_manager: ask your analyst for one of them."
        )
    return None


def loader_refusal(settings: Settings, login: str) -> str | None:
    """The loader's login is refused before any connection: it is not for viewing."""
    if login == settings.postgres_user:
        return f"{settings.postgres_user} is the loader's login, not for viewing: sign in with your own."
    return None


def connect_problem(settings: Settings, error: psycopg2.OperationalError) -> GoldAccessError:
    text = str(error)
    if "password authentication failed" in text or "does not exist" in text:
        return GoldAccessError(
            "Wrong login or password. Use your own PostgreSQL login (ask your analyst for one).", CREDENTIALS
        )
    where = f"{settings.postgres_host}:{settings.postgres_port}"
    return GoldAccessError(
        f"PostgreSQL does not answer at {where}: start the stack with `make up`. ({text.strip()})",
        UNREACHABLE,
    )


def statement_problem(
    error: psycopg2.Error, name: str, login: str, schema: str, timeout_ms: int
) -> GoldAccessError:
    if isinstance(error, errors.QueryCanceled):
        return GoldAccessError(
            f"The query '{name}' took longer than {timeout_ms / 1000:g} s and was stopped. "
            "Choose fewer stores, or try again when the nightly load is over.",
            TIMEOUT,
        )
    if isinstance(error, errors.InsufficientPrivilege):
        return GoldAccessError(
            f"Your login {login} may not read '{name}': it needs the role gold_analyst or "
            f"gold_store_manager. ({error.pgerror.strip() if error.pgerror else error})",
            REFUSED,
        )
    if isinstance(error, errors.UndefinedTable | errors.UndefinedFunction | errors.UndefinedColumn):
        return GoldAccessError(
            f"Gold in schema {schema} lacks what '{name}' reads: run `make gold-migrate`. "
            f"({str(error).strip().splitlines()[0]})",
            MISSING,
        )
    if isinstance(error, errors.InvalidSchemaName):
        return GoldAccessError(f"There is no gold schema {schema} yet: run `make gold-migrate`.", MISSING)
    return GoldAccessError(f"The query '{name}' failed: {str(error).strip().splitlines()[0]}")


def open_viewer_connection(
    settings: Settings, viewer: Viewer, application_name: str
) -> psycopg2.extensions.connection:
    """A new connection as the viewer's own login (never the loader's); the caller closes it."""
    problem = loader_refusal(settings, viewer.login)
    if problem:
        raise GoldAccessError(problem, REFUSED)
    try:
        return psycopg2.connect(
            host=settings.postgres_host,
            port=settings.postgres_port,
            dbname=settings.postgres_db,
            user=viewer.login,
            password=viewer.password,
            sslmode=settings.postgres_sslmode,
            connect_timeout=5,
            application_name=application_name,
        )
    except psycopg2.OperationalError as error:
        raise connect_problem(settings, error) from None


@contextmanager
def viewer_connection(
    settings: Settings, viewer: Viewer, application_name: str
) -> Iterator[psycopg2.extensions.connection]:
    """A connection as the viewer's own login; closed at the end of the block."""
    connection = open_viewer_connection(settings, viewer, application_name)
    try:
        yield connection
    finally:
        connection.close()


class ReadOnly:
    """One read-only transaction with a statement timeout on a viewer's connection.

    `rows()` runs query files in it; the transaction is rolled back at the end of the block.
    """

    def __init__(
        self, connection: psycopg2.extensions.connection, viewer: Viewer, schema: str, timeout_ms: int
    ):
        self.connection = connection
        self.viewer = viewer
        self.schema = schema
        self.timeout_ms = timeout_ms

    def rows(
        self, folder: str, name: str, parameters: Mapping[str, Any] | None = None
    ) -> tuple[list[str], list]:
        """(column names, rows) of sql/gold/queries/<folder>/<name>.sql."""
        statement = query(folder, name, self.schema)
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(statement, parameters or {})
                return [column.name for column in cursor.description], cursor.fetchall()
        except psycopg2.Error as error:
            raise statement_problem(error, name, self.viewer.login, self.schema, self.timeout_ms) from None

    def role(self) -> Role:
        columns, rows = self.rows(*ROLE_QUERY)
        row = dict(zip(columns, rows[0], strict=True))
        return Role(
            str(row["login"]),
            bool(row["is_analyst"]),
            bool(row["is_store_manager"]),
            bool(row["bypasses_row_security"]),
        )


@contextmanager
def read_only(
    connection: psycopg2.extensions.connection, viewer: Viewer, schema: str, timeout_ms: int
) -> Iterator[ReadOnly]:
    """A read-only transaction with `timeout_ms` as its statement timeout, rolled back afterwards.

    PostgreSQL's JIT compilation is off in it: on the 5M-line bench gold the planner's (over)estimates
    of the 28-day views set it off, and compiling took 0.7-10 s of queries that run in 0.5-1 s
    without it (the dashboard's and the API's reads alike).
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("set transaction read only")
            cursor.execute("select set_config('statement_timeout', %s, true)", (str(timeout_ms),))
            cursor.execute("select set_config('jit', 'off', true)")
        yield ReadOnly(connection, viewer, schema, timeout_ms)
    except psycopg2.Error as error:
        raise statement_problem(error, "set up", viewer.login, schema, timeout_ms) from None
    finally:
        connection.rollback()
