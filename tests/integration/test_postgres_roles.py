"""PostgreSQL's roles on a cluster of their own: the owner migrates, the loader writes and nothing
more, `make gold-user` makes logins that see what their role allows.

The cluster is private (another port and run folder, started with the stack's own code, initdb
included), because this test creates and drops roles and reads what a fresh `make up` makes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql

from lakehouse.config import REPO_ROOT, Settings, load_settings
from lakehouse.db import connect
from ops.stack.cli import start_native
from ops.stack.private_files import new_password
from tests.support.dashboard_gold import MANAGED, STORES, DashboardGold, build

pytestmark = pytest.mark.integration

PORT_OFFSET = 23  # beside the shared stack's port, and bench's private stack (+17)
# What a manager may read that has no store column, hence no store's figures.
NO_STORE_COLUMN = ["dim_date", "dim_product"]


@pytest.fixture(scope="module")
def private_environment(settings: Settings) -> Iterator[dict[str, str]]:
    """Variables pointing at a private cluster with its own owner and loader, as `make setup` writes."""
    run_dir = tempfile.mkdtemp(prefix="roles-")
    environment = {
        "STACK_RUN_DIR": run_dir,
        "POSTGRES_PORT": str(settings.postgres_port + PORT_OFFSET),
        "POSTGRES_USER": "lakehouse_loader",
        "POSTGRES_PASSWORD": new_password(),
        "POSTGRES_OWNER_USER": "lakehouse_owner",
        "POSTGRES_OWNER_PASSWORD": new_password(),
        "GOLD_SCHEMA": "gold",
    }
    private = load_settings(environ={**os.environ, **environment})
    started = start_native(private, ["postgres"], log=lambda message: None)
    try:
        yield environment
    finally:
        for component in started:
            component.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def private(private_environment: dict[str, str]) -> Settings:
    return load_settings(environ={**os.environ, **private_environment})


@pytest.fixture(scope="module")
def gold(private: Settings) -> DashboardGold:
    """A small filled gold schema (three stores) in the private cluster."""
    return build(private)


def _as(settings: Settings, user: str, password: str) -> psycopg2.extensions.connection:
    return psycopg2.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=user,
        password=password,
        connect_timeout=5,
    )


def _loader(settings: Settings) -> psycopg2.extensions.connection:
    return _as(settings, settings.postgres_user, settings.postgres_password)


def test_the_loader_is_not_a_superuser_and_can_write_only_gold_and_ingestion(private: Settings):
    connection = _loader(private)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "select rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                "from pg_roles where rolname = current_user"
            )
            assert cursor.fetchone() == (False, False, False, False, True)
            for forbidden in (
                "copy (select 1) to program 'true'",
                "copy (select 1) to '/tmp/loader-was-here'",
                "select rolpassword from pg_authid",
                "create role sneaky login password 'x'",
                "create schema sneaky",
                "create table public.sneaky (id int)",
                "create table gold.sneaky (id int)",
                "create table ingestion.sneaky (id int)",
                "alter table gold.fact_sales add column sneaky int",
                "drop table gold.stock_alerts",
                "grant gold_analyst to current_user",
                "select pg_read_file('postgresql.conf')",
            ):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cursor.execute(forbidden)
            # What the pipelines do: rows in ingestion and gold, temporary staging tables.
            cursor.execute(
                "insert into ingestion.stage_progress (stage, target, looked_at) values ('t', 't', now())"
            )
            cursor.execute("delete from ingestion.stage_progress where stage = 't'")
            cursor.execute("insert into ingestion.kinesis_checkpoints (stream, shard_id) values ('t', 't')")
            cursor.execute("delete from ingestion.kinesis_checkpoints where stream = 't'")
            cursor.execute("create temp table stg_check (id int)")
            cursor.execute("select count(*) from gold.schema_migrations")
            assert cursor.fetchone()[0] > 0
    finally:
        connection.close()


def test_every_role_needs_its_scram_password_over_tcp(private: Settings):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        _as(private, private.postgres_user, "wrong").close()
    with connect(private, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute("select type, auth_method from pg_hba_file_rules where type like 'host%%'")
        assert {method for _, method in cursor.fetchall()} == {"scram-sha-256"}
        cursor.execute("select rolname, rolpassword like 'SCRAM-SHA-256$%%' from pg_authid where rolcanlogin")
        assert all(scram for _, scram in cursor.fetchall())


def test_the_owner_owns_the_schemas_it_migrated(private: Settings, gold: DashboardGold):
    with connect(private, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select distinct pg_get_userbyid(relowner) from pg_class "
            "where relnamespace::regnamespace::text in ('gold', 'ingestion', %s)",
            (gold.schema,),
        )
        assert [owner for (owner,) in cursor.fetchall()] == ["lakehouse_owner"]


def _make(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "gold-user", *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def gold_users(private_environment: dict[str, str], gold: DashboardGold) -> Iterator[dict[str, tuple]]:
    """A manager of S001 and S002 and an analyst, made by `make gold-user`; dropped by it at the end."""
    environment = {**private_environment, "GOLD_SCHEMA": gold.schema}
    suffix = uuid.uuid4().hex[:8]
    logins = {}
    for kind, extra in (("manager", [f"STORES={','.join(MANAGED)}"]), ("analyst", [])):
        name = f"{kind}_{suffix}"
        made = _make(environment, f"NAME={name}", f"ROLE={kind}", *extra)
        assert made.returncode == 0, made.stdout + made.stderr
        password = re.search(r"password \(shown this once, stored nowhere\): (\S+)", made.stdout).group(1)
        logins[kind] = (name, password)
    yield logins
    for name, _ in logins.values():
        dropped = _make(environment, f"NAME={name}", "DROP=1")
        assert dropped.returncode == 0 and f"dropped login {name}" in dropped.stdout, dropped.stdout


def _readable(settings: Settings, schema: str, login: str) -> dict[str, bool]:
    """Every table and view of `schema` `login` may select from -> whether it has a store_id column."""
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(
            """
            select c.relname,
                   exists (select from pg_attribute where attrelid = c.oid and attname = 'store_id')
            from pg_class as c
            where c.relnamespace = %s::regnamespace and c.relkind in ('r', 'v', 'm', 'p')
              and has_table_privilege(%s, c.oid, 'select')
            """,
            (schema, login),
        )
        return dict(cursor.fetchall())


def _invoker_views(settings: Settings, schema: str) -> set[str]:
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select relname from pg_class where relnamespace = %s::regnamespace and relkind = 'v' "
            "and 'security_invoker=true' = any(reloptions)",
            (schema,),
        )
        return {name for (name,) in cursor.fetchall()}


def _stores_seen(settings: Settings, login: tuple[str, str], schema: str, relation: str) -> set[str]:
    connection = _as(settings, *login)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("select distinct store_id::text from {}").format(sql.Identifier(schema, relation))
            )
            return {store for (store,) in cursor.fetchall()}
    finally:
        connection.close()


def _stores_there(settings: Settings, schema: str, relation: str) -> set[str]:
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("select distinct store_id::text from {}").format(sql.Identifier(schema, relation))
        )
        return {store for (store,) in cursor.fetchall()}


def test_a_manager_sees_only_its_stores_everywhere_it_can_read(
    private: Settings, gold: DashboardGold, gold_users: dict[str, tuple]
):
    manager = gold_users["manager"]
    readable = _readable(private, gold.schema, manager[0])
    with_stores = sorted(name for name, has_store in readable.items() if has_store)
    assert {"dim_store", "fact_sales", "stock_position", "stock_alerts", "v_open_alerts"} <= set(with_stores)
    seen_somewhere = set()
    for relation in with_stores:
        seen = _stores_seen(private, manager, gold.schema, relation)
        assert seen <= set(MANAGED), (relation, seen)
        seen_somewhere |= seen
    assert seen_somewhere == set(MANAGED)
    # What it reads without a store column: the products and dates, and views that run as their
    # caller (security_invoker), so row security filters what they read (cross-sell lift, say).
    no_store_column = {name for name, has_store in readable.items() if not has_store}
    assert no_store_column - _invoker_views(private, gold.schema) == set(NO_STORE_COLUMN)


def test_an_analyst_sees_every_store_and_writes_nothing_but_acknowledgements(
    private: Settings, gold: DashboardGold, gold_users: dict[str, tuple]
):
    analyst = gold_users["analyst"]
    readable = _readable(private, gold.schema, analyst[0])
    for relation in sorted(name for name, has_store in readable.items() if has_store):
        assert _stores_seen(private, analyst, gold.schema, relation) == _stores_there(
            private, gold.schema, relation
        ), relation
    assert _stores_seen(private, analyst, gold.schema, "dim_store") == set(STORES)
    with connect(private, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(
            """
            select c.relname, privilege
            from pg_class as c
            cross join unnest(array['insert', 'update', 'delete', 'truncate']) as privilege
            where c.relnamespace = %s::regnamespace and c.relkind in ('r', 'v', 'm', 'p')
              and has_table_privilege(%s, c.oid, privilege)
            """,
            (gold.schema, analyst[0]),
        )
        assert cursor.fetchall() == [("alert_acknowledgements", "insert")]
    connection = _as(private, *analyst)
    try:
        with connection.cursor() as cursor, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute(sql.SQL("delete from {}").format(sql.Identifier(gold.schema, "fact_sales")))
    finally:
        connection.close()


def test_gold_user_refuses_what_is_not_a_gold_login(private_environment: dict[str, str]):
    made = _make(private_environment, "NAME=lakehouse_loader", "ROLE=analyst")
    assert made.returncode != 0 and "not only a gold login" in made.stderr, made.stdout + made.stderr
    made = _make(private_environment, "NAME=someone", "ROLE=manager")
    assert made.returncode != 0 and "needs its stores" in made.stderr, made.stdout + made.stderr
