"""The migration runner's file handling, without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_jobs.gold.migrate import MIGRATIONS_DIR, Migration, MigrationError, check_history, discover

pytestmark = pytest.mark.unit


def test_the_repository_migrations_are_numbered_in_order():
    migrations = discover()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.path.parent == MIGRATIONS_DIR for m in migrations)


def test_every_table_states_its_grain():
    created = comments = 0
    for migration in discover():
        text = migration.text
        created += text.count("create table ")
        comments += text.count("comment on table ")
    assert created == comments


def test_placeholders_are_filled_and_casts_left_alone(tmp_path: Path):
    path = tmp_path / "001_example.sql"
    path.write_text("""create table :"schema".t (x text default 'a'::text); select :'schema', '1'::"char";""")
    rendered = Migration(1, "example", path).render("gold_test")
    assert (
        rendered
        == """create table "gold_test".t (x text default 'a'::text); select 'gold_test', '1'::"char";"""
    )


def test_bad_names_and_repeated_versions_are_refused(tmp_path: Path):
    (tmp_path / "001_first.sql").write_text("select 1;")
    (tmp_path / "1_second.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match=r"NNN_what\.sql"):
        discover(tmp_path)
    (tmp_path / "1_second.sql").rename(tmp_path / "001_second.sql")
    with pytest.raises(MigrationError, match="version 001 is also"):
        discover(tmp_path)


def test_a_changed_or_missing_applied_file_stops_the_run(tmp_path: Path):
    path = tmp_path / "001_first.sql"
    path.write_text("select 1;")
    migrations = discover(tmp_path)
    check_history(migrations, {1: ("first", migrations[0].checksum)}, "gold")
    with pytest.raises(MigrationError, match=r"changed after it was applied.*new migration"):
        check_history(migrations, {1: ("first", "0" * 64)}, "gold")
    with pytest.raises(MigrationError, match="missing from"):
        check_history(migrations, {2: ("second", "0" * 64)}, "gold")
