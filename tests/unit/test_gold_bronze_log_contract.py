"""Gold finds silver's completed runs in silver's bronze log: the contract names it as silver writes it."""

from __future__ import annotations

import pytest

from spark_jobs.gold.silver_contract import BRONZE_LOG
from spark_jobs.silver import bronze_log

pytestmark = pytest.mark.unit


def test_gold_reads_the_bronze_log_where_and_as_silver_writes_it():
    assert BRONZE_LOG.name == bronze_log.BRONZE_LOG
    written = {field.name: field.dataType for field in bronze_log.LOG_SCHEMA.fields}
    for column in BRONZE_LOG.columns:
        assert written.get(column.name) == column.kind, column.name
