"""Apply the gold schema's versioned SQL migrations (`sql/gold/migrations/NNN_what.sql`) in order,
then bring the views (`sql/gold/views/<view>.sql`) up to date.

Each migration runs in its own transaction together with its row in `<schema>.schema_migrations`
(version, name, SHA-256 of the file), so a failed migration leaves nothing half-applied and a
rerun applies only what is new. An applied file that has since changed, or disappeared, stops
the run: the database no longer matches the repository, and silently carrying on would hide it.

Views are repeatable, not versioned: changing a view is editing its file. After the pending
migrations, when any view file differs from what `<schema>.schema_views` records (or a view is
missing), every view is dropped and created again from its file, in dependency order (a view
after the views it selects from), with its grants, in one transaction, and the records are
rewritten. Dropping them together means no view is ever seen half-replaced and no order of drops
matters; a view whose file was deleted is dropped too. They are not re-created on runs where
nothing changed: dropping a view waits for every query reading it, and `silver_to_gold` migrates
every minute. A migration that changes a column a view uses drops that view first; the views
step brings it back.

Migrations 012-017 created the six views before views had files of their own. They are retired
(`RETIRED`, by version and name): their files are gone, a database that applied them keeps
their rows in `schema_migrations` as history, and the check below accepts exactly those; the
views step then replaces what they created, since it drops and re-creates views by name. A
retired version is never reused. Keeping the files as no-ops instead would leave two
definitions of each view in the repository.

Files name the schema as `:"schema"` (an identifier) or `:'schema'` (a literal), psql's
variable syntax (`sql_files.render`), so the same file runs here for any schema and by hand with
`psql -v schema=gold -f sql/gold/migrations/001_dim_date.sql`. Tests give each module its own
schema this way. The checksum is taken over the file as written, so it does not depend on the
schema it was applied to.

Migrations connect as the owner role (POSTGRES_OWNER_USER), which owns the schemas; the
pipelines connect as the loader, which cannot create or alter anything, so they only check
(`require_migrated`) and `make up` or `make gold-migrate` applies what is pending. The
ingestion schema's tables (`sql/ingestion/migrations/`) are migrated the same way, before gold's.

    python -m spark_jobs.gold.migrate [--schema gold] [--status]
"""

from __future__ import annotations

import argparse
import graphlib
import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql

from lakehouse.config import Settings, check_schema_name, load_settings
from lakehouse.db import connect
from lakehouse.locks import lock_key
from spark_jobs.gold.sql_files import SQL_DIR, render

MIGRATIONS_DIR = SQL_DIR / "migrations"
INGESTION_SCHEMA = "ingestion"
INGESTION_MIGRATIONS_DIR = SQL_DIR.parent / "ingestion" / "migrations"
VIEWS_DIR = SQL_DIR / "views"
_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_VIEW_NAME = re.compile(r"^(v_[a-z0-9_]+)\.sql$")
_VIEW_REFERENCE = re.compile(r':"schema"\.(v_[a-z0-9_]+)\b')
# Migrations removed on purpose (see the module doc): version -> the name they were applied as.
RETIRED: dict[int, str] = {
    12: "view_current_stock",
    13: "view_open_alerts",
    14: "view_store_performance",
    15: "view_inventory_risk",
    16: "view_cross_sell_pairs",
    17: "view_loyalty_spend",
}
# One lock for every runner on the cluster: migrations also create cluster-wide roles.
_ADVISORY_LOCK = lock_key("gold-migrate", "cluster")


class MigrationError(RuntimeError):
    """The migrations on disk and those applied to the database disagree; the message says how."""


class _SqlFile:
    """What migrations and views share: a file's text, its checksum, and its SQL for a schema."""

    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def render(self, schema: str) -> str:
        """The SQL with the schema placeholders filled in."""
        return render(self.text, schema)


@dataclass(frozen=True)
class Migration(_SqlFile):
    version: int
    name: str
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file in version order; a stray name or a repeated version is an error."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: name migrations NNN_what.sql (three digits, lower case)")
        version = int(match.group(1))
        if version in RETIRED:
            raise MigrationError(f"{path}: version {version:03d} is retired; number it after the last one")
        if version in migrations:
            raise MigrationError(f"{path}: version {version:03d} is also {migrations[version].path.name}")
        migrations[version] = Migration(version, match.group(2), path)
    return [migrations[version] for version in sorted(migrations)]


@dataclass(frozen=True)
class View(_SqlFile):
    name: str
    path: Path

    def selects_from(self) -> set[str]:
        """The other views of the schema this view reads."""
        return set(_VIEW_REFERENCE.findall(self.text)) - {self.name}


def discover_views(directory: Path = VIEWS_DIR) -> list[View]:
    """Every view file, each after the views it selects from; a file must create the view it names."""
    views: dict[str, View] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _VIEW_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: name view files v_what.sql, after the view they create")
        view = View(match.group(1), path)
        if f'create view :"schema".{view.name} ' not in view.text:
            raise MigrationError(f'{path}: it must create the view it is named for, :"schema".{view.name}')
        views[view.name] = view
    order = graphlib.TopologicalSorter()
    for view in views.values():
        unknown = view.selects_from() - set(views)
        if unknown:
            raise MigrationError(f"{view.path}: selects from {sorted(unknown)}, which no view file creates")
        order.add(view.name, *sorted(view.selects_from()))
    try:
        return [views[name] for name in order.static_order()]
    except graphlib.CycleError as error:
        raise MigrationError(f"views select from each other in a circle: {error.args[1]}") from None


def _bootstrap(cursor, schema: str) -> None:
    cursor.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    cursor.execute(
        sql.SQL(
            """
            create table if not exists {}.schema_migrations (
                version       integer primary key,
                name          text not null,
                checksum      text not null,
                applied_at    timestamptz not null default now(),
                execution_ms  integer not null
            )
            """
        ).format(sql.Identifier(schema))
    )
    cursor.execute(
        sql.SQL("comment on table {}.schema_migrations is 'One row per applied migration.'").format(
            sql.Identifier(schema)
        )
    )
    cursor.execute(
        sql.SQL(
            """
            create table if not exists {}.schema_views (
                name        text primary key,
                checksum    text not null,
                created_at  timestamptz not null default now()
            )
            """
        ).format(sql.Identifier(schema))
    )
    cursor.execute(
        sql.SQL(
            "comment on table {}.schema_views is "
            "'One row per view created from sql/gold/views/, with the checksum of its file.'"
        ).format(sql.Identifier(schema))
    )


def applied_migrations(cursor, schema: str) -> dict[int, tuple[str, str]]:
    """version -> (name, checksum) of what the database has applied."""
    cursor.execute(
        sql.SQL("select version, name, checksum from {}.schema_migrations").format(sql.Identifier(schema))
    )
    return {version: (name, checksum) for version, name, checksum in cursor.fetchall()}


def check_history(migrations: list[Migration], applied: dict[int, tuple[str, str]], schema: str) -> None:
    """Raise unless every applied migration still has its file, unchanged, or is retired as applied."""
    on_disk = {migration.version: migration for migration in migrations}
    for version, (name, checksum) in sorted(applied.items()):
        migration = on_disk.get(version)
        if migration is None and RETIRED.get(version) == name:
            continue
        if migration is None:
            raise MigrationError(
                f"migration {version:03d}_{name}.sql is applied to schema {schema} but missing from "
                f"{MIGRATIONS_DIR}: restore the file (applied migrations are never deleted)"
            )
        if migration.name != name or migration.checksum != checksum:
            raise MigrationError(
                f"migration {migration.path.name} changed after it was applied to schema {schema} "
                f"(applied as {version:03d}_{name}.sql, checksum {checksum[:12]}, now "
                f"{migration.checksum[:12]}): revert the edit and put the change in a new migration"
            )


def migrate(
    settings: Settings | None = None,
    schema: str | None = None,
    *,
    directory: Path = MIGRATIONS_DIR,
    log=print,
) -> list[str]:
    """Apply pending migrations to `schema` (default GOLD_SCHEMA), then the views if any changed.

    The views are the files of the `views` folder beside `directory`. Returns the file names
    applied: migrations, then `views/<view>.sql` for each view re-created.
    """
    settings = settings or load_settings()
    schema = check_schema_name(schema or settings.gold.schema)
    migrations = discover(directory)
    views = discover_views(directory.parent / "views")
    applied_now: list[str] = []
    with connect(settings, owner=True) as connection:
        with connection.cursor() as cursor:
            cursor.execute("select pg_advisory_lock(%s)", (_ADVISORY_LOCK,))
        try:
            with connection.cursor() as cursor:
                _bootstrap(cursor, schema)
                applied = applied_migrations(cursor, schema)
            connection.commit()
            check_history(migrations, applied, schema)
            for migration in migrations:
                if migration.version in applied:
                    continue
                _apply(connection, migration, schema)
                applied_now.append(migration.path.name)
                log(f"applied {migration.path.name} to schema {schema}")
            if _views_changed(connection, views, schema):
                _recreate_views(connection, views, schema)
                applied_now.extend(f"views/{view.path.name}" for view in views)
                log(f"re-created {len(views)} views in schema {schema}")
        finally:
            connection.rollback()
            with connection.cursor() as cursor:
                cursor.execute("select pg_advisory_unlock(%s)", (_ADVISORY_LOCK,))
            connection.commit()
    return applied_now


def _apply(connection, migration: Migration, schema: str) -> None:
    """One migration and its record, in one transaction."""
    began = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}, public").format(sql.Identifier(schema)))
        try:
            cursor.execute(migration.render(schema))
        except Exception as error:
            connection.rollback()
            raise MigrationError(f"{migration.path.name} failed on schema {schema}: {error}") from error
        cursor.execute(
            sql.SQL(
                "insert into {}.schema_migrations (version, name, checksum, execution_ms) "
                "values (%s, %s, %s, %s)"
            ).format(sql.Identifier(schema)),
            (migration.version, migration.name, migration.checksum, round((time.monotonic() - began) * 1000)),
        )
    connection.commit()


def created_views(cursor, schema: str) -> dict[str, str]:
    """view name -> checksum of the file each view was last created from."""
    cursor.execute(sql.SQL("select name, checksum from {}.schema_views").format(sql.Identifier(schema)))
    return dict(cursor.fetchall())


def _views_changed(connection, views: list[View], schema: str) -> bool:
    """Whether a view file differs from what the schema has, or a view is missing."""
    with connection.cursor() as cursor:
        if created_views(cursor, schema) != {view.name: view.checksum for view in views}:
            return True
        cursor.execute(
            "select count(to_regclass(name)) from unnest(%s::text[]) as name",
            ([f'"{schema}"."{view.name}"' for view in views],),
        )
        return cursor.fetchone()[0] < len(views)


def _recreate_views(connection, views: list[View], schema: str) -> None:
    """Drop every view the schema has from files and create them all again, in one transaction."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}, public").format(sql.Identifier(schema)))
        names = sorted(set(created_views(cursor, schema)) | {view.name for view in views})
        cursor.execute(
            sql.SQL("drop view if exists {}").format(
                sql.SQL(", ").join(sql.Identifier(schema, name) for name in names)
            )
        )
        for view in views:
            try:
                cursor.execute(view.render(schema))
            except Exception as error:
                connection.rollback()
                raise MigrationError(f"{view.path.name} failed on schema {schema}: {error}") from error
        cursor.execute(sql.SQL("delete from {}.schema_views").format(sql.Identifier(schema)))
        cursor.executemany(
            sql.SQL("insert into {}.schema_views (name, checksum) values (%s, %s)").format(
                sql.Identifier(schema)
            ),
            [(view.name, view.checksum) for view in views],
        )
    connection.commit()


def status(settings: Settings | None = None, schema: str | None = None) -> list[tuple[str, str]]:
    """(file name, 'applied' | 'pending') for every migration and view on disk."""
    settings = settings or load_settings()
    schema = check_schema_name(schema or settings.gold.schema)
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute("select to_regclass(%s)", (f'"{schema}".schema_migrations',))
        applied = applied_migrations(cursor, schema) if cursor.fetchone()[0] else {}
        cursor.execute("select to_regclass(%s)", (f'"{schema}".schema_views',))
        created = created_views(cursor, schema) if cursor.fetchone()[0] else {}
    migrations = [
        (migration.path.name, "applied" if migration.version in applied else "pending")
        for migration in discover()
    ]
    views = [
        (f"views/{view.path.name}", "applied" if created.get(view.name) == view.checksum else "pending")
        for view in discover_views()
    ]
    return migrations + views


def require_migrated(settings: Settings | None = None, schema: str | None = None) -> None:
    """For the pipelines, which connect as the loader and cannot migrate: raise unless `schema` is
    up to date with the files."""
    schema = check_schema_name(schema or (settings or load_settings()).gold.schema)
    pending = [name for name, state in status(settings, schema) if state == "pending"]
    if pending:
        raise MigrationError(
            f"schema {schema} lacks {len(pending)} migration(s) or view(s) ({', '.join(pending[:3])}"
            f"{', ...' if len(pending) > 3 else ''}): run `make gold-migrate`, which connects as the owner"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark_jobs.gold.migrate", description=__doc__)
    parser.add_argument("--schema", help="target schema (default: GOLD_SCHEMA, gold)")
    parser.add_argument("--status", action="store_true", help="list applied and pending migrations")
    arguments = parser.parse_args(argv)
    if arguments.status:
        for name, state in status(schema=arguments.schema):
            print(f"{state:8} {name}")
        return 0
    try:
        if arguments.schema is None:  # the stack's own gold also needs the ingestion schema
            migrate(schema=INGESTION_SCHEMA, directory=INGESTION_MIGRATIONS_DIR)
        applied = migrate(schema=arguments.schema)
    except MigrationError as error:
        print(f"error: {error}")
        return 1
    print(f"{len(applied)} migration(s) and view(s) applied" if applied else "gold schema is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
