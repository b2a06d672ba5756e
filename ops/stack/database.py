"""The stack's PostgreSQL roles: the owner makes the database, the loader and the schemas; the
pipelines, Mage and `make psql` connect as the loader.

- The owner (POSTGRES_OWNER_USER) is the cluster's superuser, made by initdb (or the postgres
  image). It owns the database, the ingestion and gold schemas and every table in them, and is
  used only here, by `make gold-migrate` and by `make gold-user`. A separate non-superuser owner
  would need CREATEROLE to create gold's roles and logins, and in PostgreSQL 15 a CREATEROLE role
  can grant itself pg_execute_server_program: a superuser in all but name, behind one more password.
- The loader (POSTGRES_USER) logs in with a password and is no superuser: no CREATEROLE, CREATEDB
  or replication, no server files or programs (`COPY ... PROGRAM`), no pg_authid. Default
  privileges give it select, insert, update, delete and truncate on every table the owner creates,
  and usage on every schema the owner creates: gold, ingestion, and the schemas tests migrate. It
  has BYPASSRLS, because gold's row-level security is for viewers: the load must see every store.
  The dashboard refuses a login that bypasses row-level security, so the loader cannot view.

`bootstrap` is idempotent: `make up` runs it on every start (a new migration is applied then), and
the PostgreSQL component runs it after starting a cluster. With an `.env` from before the split
(no POSTGRES_OWNER_PASSWORD) owner and loader are the one POSTGRES_USER and only the migrations run.
"""

from __future__ import annotations

from psycopg2 import sql

from lakehouse.config import Settings
from lakehouse.db import connect
from spark_jobs.gold.migrate import INGESTION_MIGRATIONS_DIR, INGESTION_SCHEMA, migrate

LOADER_ATTRIBUTES = "login nosuperuser nocreatedb nocreaterole noreplication bypassrls"
LOADER_TABLE_PRIVILEGES = "select, insert, update, delete, truncate"


def bootstrap(settings: Settings, log=print) -> list[str]:
    """Create the database and the loader, then apply the ingestion and gold migrations as the owner.

    Returns the migration and view files applied.
    """
    owner, _ = settings.postgres_owner
    loader = settings.postgres_user
    # CREATE DATABASE cannot run inside a transaction, hence autocommit.
    with (
        connect(settings, dbname="postgres", autocommit=True, owner=True) as connection,
        connection.cursor() as cursor,
    ):
        if loader != owner:
            _ensure_loader(cursor, loader, settings.postgres_password)
        cursor.execute("select 1 from pg_database where datname = %s", (settings.postgres_db,))
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("create database {}").format(sql.Identifier(settings.postgres_db)))
    if loader != owner:
        with connect(settings, owner=True) as connection, connection.cursor() as cursor:
            _grant_loader(cursor, owner, loader, settings.gold.schema)
    quiet = lambda message: None  # noqa: E731
    applied = migrate(settings, INGESTION_SCHEMA, directory=INGESTION_MIGRATIONS_DIR, log=quiet)
    applied += migrate(settings, settings.gold.schema, log=quiet)
    if applied:
        log(f"  postgres    {len(applied)} migration(s) and view(s) applied as {owner}")
    return applied


def _ensure_loader(cursor, loader: str, password: str) -> None:
    if not password:
        raise SystemExit("POSTGRES_PASSWORD is empty: `make setup` generates it into .env")
    cursor.execute("select 1 from pg_roles where rolname = %s", (loader,))
    verb = "alter" if cursor.fetchone() else "create"
    cursor.execute(
        sql.SQL(f"{verb} role {{}} {LOADER_ATTRIBUTES} password %s").format(sql.Identifier(loader)),
        (password,),
    )


def _grant_loader(cursor, owner: str, loader: str, gold_schema: str) -> None:
    """What the loader may do with what the owner creates: use its schemas, write its tables."""
    names = {"owner": sql.Identifier(owner), "loader": sql.Identifier(loader)}
    for statement in (
        "alter default privileges for role {owner} grant usage on schemas to {loader}",
        "alter default privileges for role {owner} grant "
        + LOADER_TABLE_PRIVILEGES
        + " on tables to {loader}",
        "alter default privileges for role {owner} grant usage, select, update on sequences to {loader}",
        # PostgreSQL 15 already keeps PUBLIC out of schema public; said here, it holds on any server.
        "revoke create on schema public from public",
    ):
        cursor.execute(sql.SQL(statement).format(**names))
    # Schemas the owner made before these defaults existed (a cluster from an earlier bootstrap).
    cursor.execute(
        "select nspname from pg_namespace where nspowner = (select oid from pg_roles where rolname = %s) "
        "and nspname in (%s, %s)",
        (owner, INGESTION_SCHEMA, gold_schema),
    )
    for (schema,) in cursor.fetchall():
        target = {**names, "schema": sql.Identifier(schema)}
        for statement in (
            "grant usage on schema {schema} to {loader}",
            "grant " + LOADER_TABLE_PRIVILEGES + " on all tables in schema {schema} to {loader}",
            "grant usage, select, update on all sequences in schema {schema} to {loader}",
        ):
            cursor.execute(sql.SQL(statement).format(**target))
