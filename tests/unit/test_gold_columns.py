"""Gold's columns, listed once in `staging`, against the migrations' DDL and the load's SQL.

The staging tables and the job's staging frames are built from `staging`'s lists; the merge
statements in sql/gold/load/ and sql/gold/alerts/ name the columns again, as SQL readers expect,
and the tables were created by the migrations. These tests fail when any of them drifts.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from spark_jobs.gold import stock_model
from spark_jobs.gold.alerts import AlertCondition
from spark_jobs.gold.migrate import discover
from spark_jobs.gold.sql_files import SQL_DIR
from spark_jobs.gold.staging import ALERT_CONDITIONS, STAGING, StagingTable

pytestmark = pytest.mark.unit

_CREATE_TABLE = re.compile(r'create table :"schema"\.(\w+) \((.*?)\n\);', re.DOTALL)
_ADD_COLUMN = re.compile(r'alter table :"schema"\.(\w+) add column (\w+) ([^;]+);')
_COLUMN = re.compile(r"^(\w+)\s+(\w+(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?)")
_NOT_COLUMNS = {"primary", "unique", "check", "constraint", "foreign"}
_INSERT = re.compile(r'insert into :"schema"\.(\w+) \(([^)]*)\)')
_CONFLICT = re.compile(r"on conflict \(([^)]*)\) do update set(.*?)(?:\nwhere|\Z)", re.DOTALL)
_EXCLUDED = re.compile(r"(\w+) = excluded\.(\w+)")

# Staged columns a merge looks something up by, rather than writes.
LOOKED_UP = {"stg_inventory_snapshot": {"calendar_date"}}
# Columns a merge writes that are not staged: looked up, derived or stamped by the load.
DERIVED = {
    "dim_store": set(),
    "dim_product": {"is_current"},
    "fact_sales": {"product_key", "date_key", "unit_cost"},
    "fact_inventory_snapshot": {"date_key"},
    "stock_position": {"as_of", "stockout_probability", "calibration_fitted_on", "calibration_rows"},
    "stock_forecast": {"as_of"},
    "stock_alerts": {"first_seen_at", "last_seen_at", "needs_publish"},
    "open_orders": {"as_of"},
    "promotion_calendar": set(),
}
STAGED_TABLES = [*STAGING.values(), ALERT_CONDITIONS]


def _family(kind: str) -> str:
    """A PostgreSQL type without its size: what a staging column must agree with."""
    base = re.sub(r"\(.*\)", "", kind)
    return {"smallint": "integer", "bigint": "integer"}.get(base, base)


def ddl() -> dict[str, dict[str, str]]:
    """table -> column -> type, as the migrations create and alter them."""
    tables: dict[str, dict[str, str]] = {}
    for migration in discover():
        text = migration.text
        for table, body in _CREATE_TABLE.findall(text):
            columns = tables.setdefault(table, {})
            for line in body.splitlines():
                match = _COLUMN.match(line.split("--")[0].strip())
                if match and match.group(1) not in _NOT_COLUMNS:
                    columns[match.group(1)] = match.group(2)
        for table, column, kind in _ADD_COLUMN.findall(text):
            tables[table][column] = kind.split()[0]
    return tables


def statements() -> list[tuple[str, str]]:
    """(file, SQL) of every statement file of the load and the alert lifecycle."""
    return [
        (f"{path.parent.name}/{path.name}", path.read_text())
        for folder in ("load", "alerts")
        for path in sorted((SQL_DIR / folder).glob("*.sql"))
    ]


def _names(listed: str) -> list[str]:
    return [name.strip() for name in listed.split(",")]


def test_the_ddl_parser_sees_every_table():
    tables = ddl()
    assert {table.target for table in STAGED_TABLES} <= set(tables)
    assert tables["fact_sales"]["line_number"] == "smallint"
    assert tables["stock_position"]["dow_index"] == "numeric(6, 3)[]"
    assert tables["load_runs"]["silver_loaded_through"] == "timestamptz"


@pytest.mark.parametrize("table", STAGED_TABLES, ids=lambda table: table.name)
def test_every_staged_column_is_a_column_of_its_gold_table_with_its_type(table: StagingTable):
    target = ddl()[table.target]
    for name, kind in table.columns:
        if name in LOOKED_UP.get(table.name, set()):
            continue
        assert name in target, f"{table.name}.{name} is not a column of {table.target}"
        assert _family(kind) == _family(target[name]), f"{table.name}.{name}: {kind} vs {target[name]}"


def test_every_merge_writes_exactly_the_staged_and_derived_columns():
    feeding = {table.target: table for table in STAGED_TABLES}
    tables = ddl()
    merged = set()
    for file, text in statements():
        for target, listed in _INSERT.findall(text):
            written = _names(listed)
            assert len(written) == len(set(written)), file
            assert set(written) <= set(tables[target]), f"{file}: {set(written) - set(tables[target])}"
            if target in feeding:
                staged = feeding[target]
                expected = set(staged.column_names) - LOOKED_UP.get(staged.name, set()) | DERIVED[target]
                assert set(written) == expected, f"{file}: {set(written) ^ expected}"
                merged.add(target)
    assert merged == set(feeding)


def test_every_upsert_updates_every_column_it_inserts_but_the_key():
    upserts = 0
    for file, text in statements():
        conflict = _CONFLICT.search(text)
        if conflict is None:
            continue
        upserts += 1
        [(_, listed)] = _INSERT.findall(text)
        pairs = _EXCLUDED.findall(conflict.group(2))
        assert all(left == right for left, right in pairs), file
        updated = {left for left, _ in pairs}
        assert updated == set(_names(listed)) - set(_names(conflict.group(1))), file
    assert upserts == 3  # dim_store, fact_inventory_snapshot, stock_position


def test_alert_conditions_are_staged_field_for_field():
    assert [field.name for field in dataclasses.fields(AlertCondition)] == ALERT_CONDITIONS.column_names


@pytest.mark.parametrize(
    ("table", "column", "values"),
    [
        ("stock_alerts", "kind", stock_model.KINDS),
        ("stock_alerts", "severity", stock_model.SEVERITIES),
        ("fact_inventory_snapshot", "risk", stock_model.RISKS),
        ("stock_position", "risk", stock_model.RISKS),
    ],
)
def test_the_stock_model_words_are_those_the_tables_allow(table: str, column: str, values: tuple[str, ...]):
    text = "\n".join(migration.text for migration in discover())
    body = dict(_CREATE_TABLE.findall(text))[table]
    # the table's own check, or the last constraint a later migration put in its place
    replaced = re.findall(
        rf'alter table :"schema"\.{table} add constraint \w+\s+(check .*?);', text, re.DOTALL
    )
    checks = [
        found
        for source in (body, *replaced)
        for found in re.findall(rf"check \({column} in \(([^)]*)\)\)", source)
    ]
    allowed = checks[-1]
    assert tuple(value.strip(" '\n") for value in allowed.split(",")) == values
