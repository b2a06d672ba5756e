"""The Great Expectations gate: a critical failure stops the run and says where; warnings do not."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from spark_jobs.silver import quality
from spark_jobs.silver.quality import CRITICAL, WARNING, Check, QualityGateError

pytestmark = pytest.mark.unit

SUITE = (
    Check("expect_column_values_to_not_be_null", {"column": "event_id"}),
    Check("expect_column_values_to_be_between", {"column": "quantity", "min_value": 1}),
    Check("expect_column_values_to_be_between", {"column": "quantity", "max_value": 5}, WARNING),
)


@pytest.fixture(scope="module", params=["pandas", "spark"])
def report(request, local_spark):
    """The same rows and suite through either engine: small batches go to pandas, large to Spark."""
    frame = local_spark.createDataFrame(
        [("e1", 1, 2), ("e2", 1, 0), ("e3", 1, 9)], "event_id string, line_number int, quantity int"
    )
    pandas_max_rows = 3 if request.param == "pandas" else 2
    return quality.run_suites(
        {"sales_lines": frame}, {"sales_lines": SUITE}, run_id="r1", pandas_max_rows=pandas_max_rows
    )


def test_results_say_which_expectations_failed(report):
    assert [(r.check.severity, r.success) for r in report.results] == [
        (CRITICAL, True),
        (CRITICAL, False),
        (WARNING, False),
    ]
    failed = report.critical_failures[0]
    assert (failed.element_count, failed.unexpected_count) == (3, 1)
    assert failed.sample == [{"event_id": "e2", "line_number": 1, "quantity": 0}]
    assert len(report.warnings) == 1


def test_counts_are_kept_for_every_expectation(report):
    """The counting pass asks for no sample values; counts must come back all the same."""
    assert [(r.element_count, r.unexpected_count) for r in report.results] == [(3, 0), (3, 1), (3, 1)]


def test_a_critical_failure_names_table_expectation_and_bad_rows(report):
    with pytest.raises(QualityGateError) as raised:
        quality.enforce(report, "s3a://silver/_meta/quality_results")
    message = str(raised.value)
    assert "sales_lines: expect_column_values_to_be_between(column=quantity, min_value=1)" in message
    assert '"event_id": "e2"' in message
    assert "Nothing was written" in message


def test_warnings_alone_do_not_stop_the_run(report):
    only_warnings = quality.QualityReport("r2", report.warnings)
    quality.enforce(only_warnings, "unused")
    assert only_warnings.summary()["warnings"] == [only_warnings.results[0].describe()]


def test_results_are_kept_in_a_delta_table(local_spark, report, tmp_path):
    quality.record_results(local_spark, str(tmp_path), report, datetime(2026, 11, 22, tzinfo=UTC))
    stored = local_spark.read.format("delta").load(str(tmp_path / quality.QUALITY_RESULTS)).collect()
    assert sorted((r["severity"], r["success"]) for r in stored) == [
        (CRITICAL, False),
        (CRITICAL, True),
        (WARNING, False),
    ]
    sample = next(r["sample"] for r in stored if r["severity"] == CRITICAL and not r["success"])
    assert json.loads(sample) == [{"event_id": "e2", "line_number": 1, "quantity": 0}]


def test_every_table_has_a_suite_and_its_keys():
    assert set(quality.SUITES) == set(quality.ROW_KEYS)
