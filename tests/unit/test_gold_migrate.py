"""The migration runner's file handling (migrations and views), without a database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spark_jobs.gold.migrate import (
    MIGRATIONS_DIR,
    RETIRED,
    VIEWS_DIR,
    Migration,
    MigrationError,
    check_history,
    discover,
    discover_views,
)

pytestmark = pytest.mark.unit


def test_the_repository_migrations_are_numbered_in_order():
    migrations = discover()
    versions = [m.version for m in migrations]
    assert not set(versions) & set(RETIRED)
    assert sorted([*versions, *RETIRED]) == list(range(1, len(migrations) + len(RETIRED) + 1))
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


def test_a_retired_version_is_accepted_as_applied_and_never_reused(tmp_path: Path):
    (tmp_path / "001_first.sql").write_text("select 1;")
    migrations = discover(tmp_path)
    applied = {1: ("first", migrations[0].checksum), 12: ("view_current_stock", "0" * 64)}
    check_history(migrations, applied, "gold")
    with pytest.raises(MigrationError, match="missing from"):
        check_history(migrations, {12: ("something_else", "0" * 64)}, "gold")
    (tmp_path / "012_again.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="version 012 is retired"):
        discover(tmp_path)


def test_views_come_after_the_views_they_select_from():
    views = discover_views()
    order = [view.name for view in views]
    assert {view.path.parent for view in views} == {VIEWS_DIR}
    assert len(order) == len(set(order)) >= 7
    for position, view in enumerate(views):
        assert view.selects_from() <= set(order[:position]), view.name
    assert "v_last_28_days" in views[order.index("v_inventory_risk")].selects_from()


def test_every_view_states_its_grain_reads_as_its_caller_and_is_granted():
    for view in discover_views():
        text = view.text
        assert f'create view :"schema".{view.name} with (security_invoker = true) as' in text
        assert f'comment on view :"schema".{view.name} is \'One row per' in text
        assert f'grant select on :"schema".{view.name} to gold_analyst, gold_store_manager;' in text


def test_the_28_day_window_is_written_once():
    windows = [view.name for view in discover_views() if re.search(r"calendar_date > \S+ - 28\b", view.text)]
    assert windows == ["v_last_28_days"]


def test_view_files_must_create_what_they_are_named_for_and_not_go_round_in_circles(tmp_path: Path):
    (tmp_path / "v_a.sql").write_text('create view :"schema".v_b as select 1;')
    with pytest.raises(MigrationError, match="must create the view it is named for"):
        discover_views(tmp_path)
    (tmp_path / "v_a.sql").write_text('create view :"schema".v_a as select * from :"schema".v_b;')
    (tmp_path / "v_b.sql").write_text('create view :"schema".v_b as select * from :"schema".v_a;')
    with pytest.raises(MigrationError, match="circle"):
        discover_views(tmp_path)
    (tmp_path / "v_b.sql").unlink()
    with pytest.raises(MigrationError, match="no view file creates"):
        discover_views(tmp_path)
    (tmp_path / "current.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match=r"v_what\.sql"):
        discover_views(tmp_path)
