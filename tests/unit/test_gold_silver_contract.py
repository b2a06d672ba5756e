"""Gold's silver contract matches silver's own table definitions, column for column."""

from __future__ import annotations

import pytest

from spark_jobs.gold.silver_contract import PROMOTIONS, PURCHASE_ORDERS, TABLES
from spark_jobs.silver.tables import EVENT_TABLES, table_schema

pytestmark = pytest.mark.unit

SILVER = {spec.name: table_schema(spec) for spec in EVENT_TABLES}


@pytest.mark.parametrize("table", (*TABLES, PURCHASE_ORDERS, PROMOTIONS), ids=lambda t: t.name)
def test_every_contract_column_is_in_silver_with_the_same_type(table):
    assert table.name in SILVER, f"silver has no table {table.name}"
    silver = {field.name: field.dataType for field in SILVER[table.name].fields}
    for column in table.columns:
        if column.optional and column.name not in silver:
            continue
        assert column.name in silver, f"{table.name}.{column.name} is not a silver column"
        assert silver[column.name] == column.kind, f"{table.name}.{column.name}: {silver[column.name]}"
