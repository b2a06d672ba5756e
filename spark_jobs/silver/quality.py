"""Great Expectations (0.18, the version Mage pins) on each new silver batch, before it is written.

Suites are declared here as data, one per table, each expectation critical or a warning:

- critical expectations are invariants validation already enforces (keys present and unique,
  quantities and prices in range); one failing means a bug or a gap in validation, so the run
  stops before writing anything, its bronze objects stay unprocessed, and the error names the
  table, the expectation and sample bad rows by key;
- one batch-level critical check: the quarantine holds at most SILVER_MAX_QUARANTINE_SHARE of
  the batch's lines (a broken producer, not noise); below 100 lines it is only a warning;
- warnings are plausibility checks (a discount above the line's value, a basket quantity out of
  the ordinary, a value outside the producer's enums); recorded and reported, never blocking.

Every result (passed or not) is appended to the `_meta/quality_results` Delta table on the
silver bucket, with the run id, so a run's quality can be read back after the fact, and the
Mage block prints the summary.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    BooleanType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from spark_jobs.silver import reasons
from spark_jobs.silver.tables import QUARANTINE, QUARANTINE_KEYS, fence

CRITICAL = "critical"
WARNING = "warning"
QUALITY_RESULTS = "_meta/quality_results"
SAMPLE_ROWS = 5


# BASIC gives element and unexpected counts; with no sample values asked for, Spark plans each
# expectation's "unexpected values" query as empty and only the bundled counting pass runs (the
# default of 20 samples made one extra scan of the batch per expectation: half the gate's time).
COUNTS_ONLY = {"result_format": "BASIC", "partial_unexpected_count": 0}

# Up to this many rows, a table's new rows are validated in pandas (collected with toPandas, then
# GE's pandas engine): the same suite and expectations, but GE's Spark engine spends about a
# second per table on small Spark jobs however few the rows, most of a continuous pass's gate
# (measured: 150 sales lines, 1.25 s in Spark, 0.23 s in pandas). Larger batches stay in Spark,
# where their rows are.
PANDAS_MAX_ROWS = 20_000


class QualityGateError(RuntimeError):
    """A critical expectation failed on the new silver batch; nothing was written."""


@dataclass(frozen=True)
class Check:
    """One expectation of a suite: a Great Expectations expectation type and its arguments."""

    expectation: str
    kwargs: Mapping[str, object]
    severity: str = CRITICAL

    def describe(self) -> str:
        arguments = ", ".join(f"{name}={value}" for name, value in self.kwargs.items())
        return f"{self.expectation}({arguments})"


def _not_null(*columns: str) -> tuple[Check, ...]:
    return tuple(Check("expect_column_values_to_not_be_null", {"column": column}) for column in columns)


def _at_least(column: str, low: int, severity: str = CRITICAL) -> Check:
    return Check("expect_column_values_to_be_between", {"column": column, "min_value": low}, severity)


def _one_of(column: str, values: list[str]) -> Check:
    """A warning: values outside the producer's enum are new, not necessarily wrong."""
    return Check("expect_column_values_to_be_in_set", {"column": column, "value_set": values}, WARNING)


def _not_before(later: str, earlier: str) -> Check:
    """Critical: validation already quarantines the rows where `later` comes before `earlier`."""
    return Check(
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": later, "column_B": earlier, "or_equal": True},
    )


def _unique(*columns: str) -> Check:
    if len(columns) == 1:
        return Check("expect_column_values_to_be_unique", {"column": columns[0]})
    return Check("expect_compound_columns_to_be_unique", {"column_list": list(columns)})


SUITES: dict[str, tuple[Check, ...]] = {
    "sales_lines": (
        *_not_null("event_id", "line_number", "event_date", "store_id", "sku", "quantity", "unit_price"),
        _unique("event_id", "line_number"),
        _at_least("quantity", 1),
        _at_least("unit_price", 0),
        _at_least("net_amount", 0, WARNING),
        _one_of("payment_method", ["card", "mobile", "cash", "gift_card"]),
        Check(
            "expect_column_values_to_be_between",
            {"column": "quantity", "max_value": 100, "mostly": 0.999},
            WARNING,
        ),
    ),
    "deliveries": (
        *_not_null("event_id", "line_number", "event_date", "store_id", "sku", "quantity"),
        _unique("event_id", "line_number"),
        _at_least("quantity", 1),
    ),
    "stock_counts": (
        *_not_null("event_id", "line_number", "event_date", "store_id", "sku", "counted_quantity"),
        _unique("event_id", "line_number"),
        _at_least("counted_quantity", 0),
        _one_of("count_type", ["full", "cycle"]),
    ),
    "purchase_orders": (
        *_not_null(
            "event_id",
            "line_number",
            "event_date",
            "store_id",
            "order_id",
            "supplier_id",
            "ordered_at",
            "expected_at",
            "sku",
            "quantity",
        ),
        _unique("event_id", "line_number"),
        _at_least("quantity", 1),
        _not_before("expected_at", "ordered_at"),
    ),
    "promotions": (
        *_not_null(
            "event_id", "event_date", "promotion_id", "sku", "discount_percent", "first_day", "last_day"
        ),
        _unique("event_id", "sku"),
        _unique("promotion_id", "sku"),
        Check(
            "expect_column_values_to_be_between",
            {"column": "discount_percent", "min_value": 1, "max_value": 90},
        ),
        _not_before("last_day", "first_day"),
    ),
    "stores": (
        *_not_null("event_id", "store_id", "name", "timezone"),
        _unique("event_id"),
        _one_of("region", ["midwest", "mountain", "northeast", "southeast", "west"]),
        _one_of("size", ["small", "medium", "large"]),
    ),
    "products": (
        *_not_null("event_id", "sku", "price", "unit_cost"),
        _unique("event_id"),
        _at_least("price", 0),
        Check(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "price", "column_B": "unit_cost", "or_equal": True},
            WARNING,
        ),
    ),
    QUARANTINE: (
        *_not_null("bronze_key", "bronze_line", "reason"),
        _unique(*QUARANTINE_KEYS),
        Check("expect_column_values_to_be_in_set", {"column": "reason", "value_set": list(reasons.REASONS)}),
    ),
}
# Below this many bronze lines a high quarantined share is a warning: two bad lines out of three
# are noise, not a broken producer, and must not block the pipeline.
MIN_LINES_FOR_SHARE = 100


def quarantine_share_check(bronze_lines: int, max_share: float) -> Check:
    """The quarantine may hold at most `max_share` of the batch's lines (SILVER_MAX_QUARANTINE_SHARE).

    More means a broken producer, not noise: the run fails so that someone looks, unless the
    batch is too small for a share to mean anything.
    """
    severity = CRITICAL if bronze_lines >= MIN_LINES_FOR_SHARE else WARNING
    limit = int(max_share * bronze_lines)
    return Check("expect_table_row_count_to_be_between", {"max_value": limit}, severity)


# Which columns name a row in samples of bad rows.
ROW_KEYS: dict[str, list[str]] = {
    "sales_lines": ["event_id", "line_number"],
    "deliveries": ["event_id", "line_number"],
    "stock_counts": ["event_id", "line_number"],
    "stores": ["event_id"],
    "products": ["event_id"],
    "purchase_orders": ["event_id", "line_number"],
    "promotions": ["event_id", "sku"],
    QUARANTINE: list(QUARANTINE_KEYS),
}

RESULT_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("checked_at", TimestampType(), False),
        StructField("table_name", StringType(), False),
        StructField("expectation", StringType(), False),
        StructField("severity", StringType(), False),
        StructField("success", BooleanType(), False),
        StructField("element_count", LongType()),
        StructField("unexpected_count", LongType()),
        StructField("sample", StringType()),
        StructField("error", StringType()),
    ]
)


@dataclass
class CheckResult:
    table: str
    check: Check
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    sample: list = field(default_factory=list)
    error: str | None = None

    def describe(self) -> str:
        counted = (
            f"{self.unexpected_count} of {self.element_count} rows unexpected"
            if self.unexpected_count is not None
            else "failed"
        )
        text = f"{self.table}: {self.check.describe()} {counted}"
        if self.sample:
            text += f", e.g. {json.dumps(self.sample, default=str)}"
        if self.error:
            text += f" (error: {self.error})"
        return text


@dataclass
class QualityReport:
    run_id: str
    results: list[CheckResult]

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.check.severity == CRITICAL]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.check.severity == WARNING]

    def summary(self) -> dict:
        return {
            "checked": len(self.results),
            "critical_failed": [r.describe() for r in self.critical_failures],
            "warnings": [r.describe() for r in self.warnings],
        }


def _context():
    # Imported here: great_expectations takes seconds to import, and only this step needs it.
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def _validate(context, datasource, table: str, frame, checks: Sequence[Check], result_format: dict):
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_configuration import ExpectationConfiguration

    suite = ExpectationSuite(f"silver_{table}")
    for check in checks:
        # append, not add: add_expectation replaces an expectation of the same type and column.
        suite.append_expectation(ExpectationConfiguration(check.expectation, dict(check.kwargs)))
    asset = datasource.add_dataframe_asset(f"{table}_{len(datasource.assets)}")
    validator = context.get_validator(
        batch_request=asset.build_batch_request(dataframe=frame), expectation_suite=suite
    )
    results = list(validator.validate(result_format=result_format, catch_exceptions=True).results)
    return [_take_result(check, results) for check in checks]


def _take_result(check: Check, results: list):
    """The result of `check` (removed from `results`): matched by type and arguments, not order."""
    for index, result in enumerate(results):
        config = result.expectation_config
        if config.expectation_type == check.expectation and all(
            config.kwargs.get(name) == value for name, value in check.kwargs.items()
        ):
            return results.pop(index)
    raise RuntimeError(f"Great Expectations returned no result for {check.describe()}")


def _plain(value):
    """A numpy scalar (in samples from pandas) as the Python value a Spark sample holds."""
    import numpy

    return value.item() if isinstance(value, numpy.generic) else value


def _sample(result) -> list:
    found = (
        result.result.get("partial_unexpected_index_list")
        or result.result.get("partial_unexpected_list")
        or []
    )
    return [
        {name: _plain(value) for name, value in item.items()} if isinstance(item, dict) else _plain(item)
        for item in list(found)[:SAMPLE_ROWS]
    ]


def run_suites(
    frames: Mapping[str, DataFrame],
    suites: Mapping[str, Sequence[Check]],
    run_id: str,
    row_counts: Mapping[str, int] | None = None,
    pandas_max_rows: int = PANDAS_MAX_ROWS,
) -> QualityReport:
    """Validate each table's new rows with its suite; failed expectations are re-run for samples.

    The first pass asks only for counts (COUNTS_ONLY); only failures are asked again for sample
    rows, named by the table's key columns. A table of at most `pandas_max_rows` rows (its count
    from `row_counts`, else counted here) is validated in pandas, a larger one in Spark.
    """
    context = _context()
    in_spark = context.sources.add_or_update_spark(name="silver", persist=False)
    in_pandas = context.sources.add_or_update_pandas(name="silver_small")
    report = QualityReport(run_id, [])
    for table, rows in frames.items():
        checks = list(suites.get(table, ()))
        if not checks:
            continue
        count = row_counts[table] if row_counts and table in row_counts else rows.count()
        if count <= pandas_max_rows:
            datasource, frame = in_pandas, rows.toPandas()
        else:
            datasource, frame = in_spark, rows
        outcomes = _validate(context, datasource, table, frame, checks, COUNTS_ONLY)
        for check, outcome in zip(checks, outcomes, strict=True):
            result = CheckResult(
                table,
                check,
                bool(outcome.success),
                outcome.result.get("element_count"),
                outcome.result.get("unexpected_count"),
                error=(outcome.exception_info or {}).get("exception_message"),
            )
            if not result.success and result.error is None:
                detailed_format = {
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": SAMPLE_ROWS,
                    "unexpected_index_column_names": ROW_KEYS.get(table, []),
                    "return_unexpected_index_query": False,
                }
                detailed = _validate(context, datasource, table, frame, [check], detailed_format)[0]
                result.sample = _sample(detailed)
            report.results.append(result)
    return report


def record_results(spark: SparkSession, root: str, report: QualityReport, checked_at: datetime) -> None:
    """Append every result to `_meta/quality_results` on the silver root."""
    if not report.results:
        return
    rows = [
        (
            report.run_id,
            checked_at,
            r.table,
            r.check.describe(),
            r.check.severity,
            r.success,
            r.element_count,
            r.unexpected_count,
            json.dumps(r.sample, default=str) if r.sample else None,
            r.error,
        )
        for r in report.results
    ]
    frame = spark.createDataFrame(rows, RESULT_SCHEMA)
    path = f"{root.rstrip('/')}/{QUALITY_RESULTS}"
    fence(spark, path, "appending quality results to")
    frame.write.format("delta").mode("append").save(path)


def enforce(report: QualityReport, results_path: str) -> None:
    """Raise QualityGateError naming each failed critical expectation and sample bad rows."""
    failures = report.critical_failures
    if not failures:
        return
    listed = "\n  ".join(r.describe() for r in failures)
    raise QualityGateError(
        f"silver quality gate failed in run {report.run_id}; critical expectations not met:\n  {listed}\n"
        "Nothing was written to silver and the bronze objects stay unprocessed, so the next run "
        "retries them. A critical expectation restates a validation rule, so a failure points at a "
        "gap in spark_jobs/silver/validate.py (or a suite in quality.py that is wrong): fix it, "
        f"then rerun. All results of this run are in {results_path}."
    )
