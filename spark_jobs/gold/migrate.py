"""Apply the gold schema's versioned SQL migrations (`sql/gold/migrations/NNN_what.sql`) in order.

Each migration runs in its own transaction together with its row in `<schema>.schema_migrations`
(version, name, SHA-256 of the file), so a failed migration leaves nothing half-applied and a
rerun applies only what is new. An applied file that has since changed, or disappeared, stops
the run: the database no longer matches the repository, and silently carrying on would hide it.

Migrations name the schema as `:"schema"` (an identifier) or `:'schema'` (a literal), psql's
variable syntax, so the same file runs here for any schema and by hand with
`psql -v schema=gold -f sql/gold/migrations/001_dim_date.sql`. Tests give each module its own
schema this way. The checksum is taken over the file as written, so it does not depend on the
schema it was applied to.

    python -m spark_jobs.gold.migrate [--schema gold] [--status]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql

from lakehouse.config import REPO_ROOT, Settings, load_settings
from lakehouse.db import connect
from lakehouse.locks import lock_key
from spark_jobs.gold.config import check_schema_name, load_gold_config

MIGRATIONS_DIR = REPO_ROOT / "sql" / "gold" / "migrations"
_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# `:"schema"` and `:'schema'`, but not the `::` of a cast.
_IDENTIFIER = re.compile(r'(?<!:):"schema"')
_LITERAL = re.compile(r"(?<!:):'schema'")
# One lock for every runner on the cluster: migrations also create cluster-wide roles.
_ADVISORY_LOCK = lock_key("gold-migrate", "cluster")


class MigrationError(RuntimeError):
    """The migrations on disk and those applied to the database disagree; the message says how."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def render(self, schema: str) -> str:
        """The SQL with the schema placeholders filled in."""
        identifier = '"' + schema + '"'
        literal = "'" + schema + "'"
        return _LITERAL.sub(lambda _: literal, _IDENTIFIER.sub(lambda _: identifier, self.text))


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file in version order; a stray name or a repeated version is an error."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: name migrations NNN_what.sql (three digits, lower case)")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"{path}: version {version:03d} is also {migrations[version].path.name}")
        migrations[version] = Migration(version, match.group(2), path)
    return [migrations[version] for version in sorted(migrations)]


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


def applied_migrations(cursor, schema: str) -> dict[int, tuple[str, str]]:
    """version -> (name, checksum) of what the database has applied."""
    cursor.execute(
        sql.SQL("select version, name, checksum from {}.schema_migrations").format(sql.Identifier(schema))
    )
    return {version: (name, checksum) for version, name, checksum in cursor.fetchall()}


def check_history(migrations: list[Migration], applied: dict[int, tuple[str, str]], schema: str) -> None:
    """Raise unless every applied migration still has its file, unchanged."""
    on_disk = {migration.version: migration for migration in migrations}
    for version, (name, checksum) in sorted(applied.items()):
        migration = on_disk.get(version)
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
    """Apply pending migrations to `schema` (default GOLD_SCHEMA); return the file names applied."""
    settings = settings or load_settings()
    schema = check_schema_name(schema or load_gold_config().schema)
    migrations = discover(directory)
    applied_now: list[str] = []
    with connect(settings) as connection:
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


def status(settings: Settings | None = None, schema: str | None = None) -> list[tuple[str, str]]:
    """(file name, 'applied' | 'pending') for every migration on disk."""
    settings = settings or load_settings()
    schema = check_schema_name(schema or load_gold_config().schema)
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute("select to_regclass(%s)", (f'"{schema}".schema_migrations',))
        applied = applied_migrations(cursor, schema) if cursor.fetchone()[0] else {}
    return [
        (migration.path.name, "applied" if migration.version in applied else "pending")
        for migration in discover()
    ]


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
        applied = migrate(schema=arguments.schema)
    except MigrationError as error:
        print(f"error: {error}")
        return 1
    print(f"{len(applied)} migration(s) applied" if applied else "gold schema is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
