"""Gold migrations and views on the real PostgreSQL: fresh and re-applied, change detection, roles and RLS."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import errors, sql

from lakehouse.config import Settings
from lakehouse.db import connect
from spark_jobs.gold.migrate import (
    MIGRATIONS_DIR,
    RETIRED,
    VIEWS_DIR,
    MigrationError,
    discover,
    discover_views,
    migrate,
)
from tests.support.gold_schemas import drop_schema, migrated_gold

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gold_schema(postgres: Settings) -> Iterator[str]:
    with migrated_gold(postgres, "gold_t") as schema:
        yield schema


def _fetch(settings: Settings, query: str, *params) -> list[tuple]:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def test_fresh_schema_has_every_migration_and_a_rerun_applies_nothing(postgres: Settings, gold_schema: str):
    applied = _fetch(postgres, f'select version from "{gold_schema}".schema_migrations order by version')
    assert [row[0] for row in applied] == [m.version for m in discover()]
    assert migrate(postgres, gold_schema, log=lambda message: None) == []


def test_every_table_comment_states_its_grain(postgres: Settings, gold_schema: str):
    rows = _fetch(
        postgres,
        """
        select c.relname, obj_description(c.oid, 'pg_class')
        from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname = %s and c.relkind in ('r', 'v')
        """,
        gold_schema,
    )
    assert len(rows) >= 18
    for name, comment in rows:
        assert comment and comment.startswith("One row per"), f"{name}: {comment!r}"


@pytest.fixture
def scratch_migrations(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    shutil.copy(MIGRATIONS_DIR / "001_dim_date.sql", directory)
    return directory


def test_a_changed_applied_migration_is_an_error(postgres: Settings, scratch_migrations: Path):
    schema = f"gold_t{uuid.uuid4().hex[:10]}"
    try:
        migrate(postgres, schema, directory=scratch_migrations, log=lambda message: None)
        path = scratch_migrations / "001_dim_date.sql"
        path.write_text(path.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match=r"001_dim_date\.sql changed after it was applied"):
            migrate(postgres, schema, directory=scratch_migrations, log=lambda message: None)
    finally:
        drop_schema(postgres, schema)


def test_a_failing_migration_leaves_nothing_behind(postgres: Settings, scratch_migrations: Path):
    schema = f"gold_t{uuid.uuid4().hex[:10]}"
    (scratch_migrations / "002_broken.sql").write_text(
        'create table :"schema".half (x int);\nselect 1 / 0;\n'
    )
    try:
        with pytest.raises(MigrationError, match=r"002_broken\.sql failed"):
            migrate(postgres, schema, directory=scratch_migrations, log=lambda message: None)
        assert _fetch(postgres, f'select version from "{schema}".schema_migrations') == [(1,)]
        assert _fetch(postgres, "select to_regclass(%s)", f"{schema}.half") == [(None,)]
    finally:
        drop_schema(postgres, schema)


@pytest.fixture
def scratch_sql(tmp_path: Path) -> Path:
    """A copy of sql/gold/migrations and sql/gold/views; returns its migrations folder."""
    shutil.copytree(MIGRATIONS_DIR, tmp_path / "migrations")
    shutil.copytree(VIEWS_DIR, tmp_path / "views")
    return tmp_path / "migrations"


def _view_columns(settings: Settings, schema: str, view: str) -> list[str]:
    rows = _fetch(
        settings,
        "select column_name from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        schema,
        view,
    )
    return [name for (name,) in rows]


def _readable_as_its_caller_by_both_roles(settings: Settings, schema: str, view: str) -> bool:
    [(options, analyst, manager)] = _fetch(
        settings,
        "select c.reloptions, has_table_privilege('gold_analyst', c.oid, 'select'), "
        "has_table_privilege('gold_store_manager', c.oid, 'select') "
        "from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s",
        schema,
        view,
    )
    return "security_invoker=true" in (options or []) and analyst and manager


def test_a_changed_view_file_is_applied_by_the_next_migrate(postgres: Settings, scratch_sql: Path):
    schema = f"gold_t{uuid.uuid4().hex[:10]}"
    quiet = {"log": lambda message: None}
    try:
        migrate(postgres, schema, directory=scratch_sql, **quiet)
        migrations = _fetch(postgres, f'select count(*) from "{schema}".schema_migrations')
        path = scratch_sql.parent / "views" / "v_current_stock.sql"
        path.write_text(
            path.read_text().replace("positions.as_of\n", "positions.as_of,\n        positions.loaded_at\n")
        )

        views = [f"views/{view.path.name}" for view in discover_views(scratch_sql.parent / "views")]
        assert migrate(postgres, schema, directory=scratch_sql, **quiet) == views
        assert _view_columns(postgres, schema, "v_current_stock")[-2:] == ["as_of", "loaded_at"]
        assert _fetch(postgres, f'select count(*) from "{schema}".schema_migrations') == migrations
        for view in discover_views(scratch_sql.parent / "views"):
            assert _readable_as_its_caller_by_both_roles(postgres, schema, view.name), view.name
        assert migrate(postgres, schema, directory=scratch_sql, **quiet) == []
    finally:
        drop_schema(postgres, schema)


def test_a_schema_that_applied_the_retired_view_migrations_gets_its_views_from_the_files(postgres: Settings):
    """As before views had files: 012-017 in the history, their views in place, no schema_views."""
    schema = f"gold_t{uuid.uuid4().hex[:10]}"
    quiet = {"log": lambda message: None}
    try:
        migrate(postgres, schema, **quiet)
        with connect(postgres, owner=True) as connection, connection.cursor() as cursor:
            names = [view.name for view in discover_views()]
            cursor.execute(
                sql.SQL("drop view {}").format(sql.SQL(", ").join(sql.Identifier(schema, n) for n in names))
            )
            cursor.execute(sql.SQL("drop table {}").format(sql.Identifier(schema, "schema_views")))
            cursor.execute(
                sql.SQL("create view {} as select 1 as stand_in").format(
                    sql.Identifier(schema, "v_current_stock")
                )
            )
            cursor.executemany(
                sql.SQL(
                    "insert into {} (version, name, checksum, execution_ms) values (%s, %s, %s, 0)"
                ).format(sql.Identifier(schema, "schema_migrations")),
                [(version, name, "0" * 64) for version, name in RETIRED.items()],
            )

        applied = migrate(postgres, schema, **quiet)
        assert applied == [f"views/{view.path.name}" for view in discover_views()]
        assert "stock_value_at_cost" in _view_columns(postgres, schema, "v_current_stock")
        for name in names:
            assert _readable_as_its_caller_by_both_roles(postgres, schema, name), name
        assert migrate(postgres, schema, **quiet) == []
    finally:
        drop_schema(postgres, schema)


def _seed_two_stores(settings: Settings, schema: str) -> None:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}").format(sql.Identifier(schema)))
        cursor.execute(
            """
            insert into dim_store (store_id, store_name, region, timezone, snapshot_at) values
                ('S001', 'One', 'west', 'UTC', now()), ('S002', 'Two', 'east', 'UTC', now());
            insert into dim_product (sku, product_name, category, unit_cost, price, valid_from, is_current)
                values ('SKU-00001', 'Tea', 'drinks', 1.00, 2.50, '-infinity', true);
            insert into fact_sales (event_id, line_number, basket_id, store_id, product_key, sku, date_key,
                                    sold_at, quantity, unit_price, discount, unit_cost, payment_method)
            select gen_random_uuid(), 1, gen_random_uuid(), store_id, 1, 'SKU-00001', 20261102,
                   '2026-11-02 10:00Z', 2, 2.50, 0, 1.00, 'card'
            from dim_store;
            select refresh_agg_sales_store_daily(
                (select jsonb_agg(distinct jsonb_build_object('store_id', store_id, 'date_key', date_key))
                 from fact_sales)
            );
            """
        )


@pytest.fixture
def login_roles(postgres: Settings) -> Iterator[dict[str, tuple[str, str]]]:
    """A store manager of S001 and an analyst, as login users with throwaway passwords."""
    suffix = uuid.uuid4().hex[:8]
    roles = {
        "manager": (f"mgr_{suffix}", uuid.uuid4().hex, "gold_store_manager"),
        "analyst": (f"ana_{suffix}", uuid.uuid4().hex, "gold_analyst"),
    }
    with connect(postgres, owner=True) as connection, connection.cursor() as cursor:
        for name, password, group in roles.values():
            cursor.execute(
                sql.SQL("create role {} login password %s in role {}").format(
                    sql.Identifier(name), sql.Identifier(group)
                ),
                (password,),
            )
    yield {kind: (name, password) for kind, (name, password, _) in roles.items()}
    with connect(postgres, owner=True) as connection, connection.cursor() as cursor:
        for name, _, _ in roles.values():
            cursor.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


def _as(settings: Settings, user: str, password: str, query: str) -> list[tuple]:
    connection = psycopg2.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=user,
        password=password,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(query)
            rows = cursor.fetchall() if cursor.description else []
        connection.commit()
        return rows
    finally:
        connection.close()


def test_a_store_manager_sees_only_their_stores_and_the_analyst_cannot_write(
    postgres: Settings, gold_schema: str, login_roles: dict[str, tuple[str, str]]
):
    _seed_two_stores(postgres, gold_schema)
    manager, analyst = login_roles["manager"], login_roles["analyst"]
    with connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute(f'insert into "{gold_schema}".store_access values (%s, %s)', (manager[0], "S001"))

    seen = "select distinct store_id from {schema}.{table} order by 1"
    for table in ("fact_sales", "dim_store", "v_store_performance", "v_loyalty_spend"):
        query = seen.format(schema=f'"{gold_schema}"', table=table)
        assert _as(postgres, *manager, query) == [("S001",)], table
        assert _as(postgres, *analyst, query) == [("S001",), ("S002",)], table

    for statement in (
        f'delete from "{gold_schema}".fact_sales',
        f"update \"{gold_schema}\".dim_store set store_name = 'x'",
        f"insert into \"{gold_schema}\".store_access values ('someone', 'S002')",
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            _as(postgres, *analyst, statement)
        with pytest.raises(errors.InsufficientPrivilege):
            _as(postgres, *manager, statement)


@pytest.mark.parametrize(
    "path", sorted((MIGRATIONS_DIR.parent / "queries").glob("*.sql")), ids=lambda p: p.stem
)
def test_example_queries_run(postgres: Settings, gold_schema: str, path: Path):
    text = path.read_text()
    assert text.startswith("-- "), "each example query starts with a comment saying what it answers"
    assert "Grain:" in text
    with connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute(text.replace("gold.", f'"{gold_schema}".'))
        assert cursor.description is not None
