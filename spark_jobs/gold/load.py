"""Move the job's DataFrames into gold: COPY into staging tables, then merge, all in one transaction.

Why this shape: COPY is the fastest way into PostgreSQL, temporary staging tables vanish with
the transaction, and every merge is an upsert on the table's key, so a rerun of the same input
changes nothing and duplicates nothing. Because staging, merges, alert lifecycle and the
`load_runs` row share one transaction, a load that fails anywhere leaves gold exactly as it was.
The same transaction proves, last, that this process still holds gold's stage on the schema
(its lease row locked, its token current, its lock session alive: lakehouse/locks.py), so a
load whose holder lost the stage meanwhile is rolled back instead of committed beside the new
holder's.
The staging tables are listed in `staging`; each statement is a file in `sql/gold/load/`, run in
the order `load_gold` gives.

Spark renders each row as a CSV line on the executors (`csv_lines`), so only text crosses to
the driver, which streams it into COPY. On a cluster with a large first load, the same staging
tables could be filled by Spark's JDBC writer instead; the merges would not change.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

from psycopg2 import sql
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType

from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.locks import require_lease
from spark_jobs.gold import alerts, calibration
from spark_jobs.gold import stock_model as model
from spark_jobs.gold.sql_files import gold_sql
from spark_jobs.gold.staging import CALIBRATED_PROBABILITY, STAGING

GOLD_STAGE = "gold"
_CSV_OPTIONS = {
    "timestampFormat": "yyyy-MM-dd HH:mm:ss.SSSSSSXXX",
    "dateFormat": "yyyy-MM-dd",
    "escape": '"',  # PostgreSQL doubles quotes inside quoted values
    "nullValue": "",  # unquoted empty is NULL to COPY ... (format csv)
}


class LoadError(RuntimeError):
    """The staged data cannot be merged into gold; nothing was changed. The message says why."""


def csv_lines(frame: DataFrame, table: str) -> Iterator[str]:
    """The rows of `frame` as CSV lines in the column order of staging `table`.

    Spark formats the lines on the executors (arrays as PostgreSQL array literals), and the
    driver fetches them a partition at a time, so memory stays flat whatever the row count.
    """
    columns = []
    for name in STAGING[table].column_names:
        column = F.col(name)
        if isinstance(frame.schema[name].dataType, ArrayType):
            column = F.concat(F.lit("{"), F.array_join(column.cast("array<string>"), ","), F.lit("}"))
        columns.append(column.alias(name))
    rendered = frame.select(F.to_csv(F.struct(*columns), _CSV_OPTIONS).alias("line"))
    return (row.line for row in rendered.toLocalIterator(prefetchPartitions=True))


# csv_lines fetches each partition whole. A partition of 500,000 sales lines (about 100 MB of
# CSV, the 1M-line gold bench's silver written as two files) next to the load's cached frames ran
# a 2 GiB driver out of heap; `spread` keeps a fetched partition at or under this many lines.
LINES_PER_FETCH = 100_000


def spread(frame: DataFrame, rows: int) -> DataFrame:
    """`frame` over enough partitions that none holds more than LINES_PER_FETCH of its `rows`;
    unchanged (no shuffle) when it already has that many, as every small incremental load does."""
    wanted = -(-rows // LINES_PER_FETCH)
    return frame.repartition(wanted) if wanted > frame.rdd.getNumPartitions() else frame


class _LineStream(io.TextIOBase):
    """A read()-able file over an iterator of lines, for COPY FROM STDIN."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._buffer = ""
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        want = size if size is not None and size >= 0 else 1 << 62
        parts, length = [self._buffer], len(self._buffer)
        while length < want:
            line = next(self._lines, None)
            if line is None:
                break
            self.count += 1
            parts.append(line + "\n")
            length += len(line) + 1
        text = "".join(parts)
        self._buffer = text[want:] if length > want else ""
        return text[:want]


def copy_lines(cursor, table: str, lines: Iterable[str]) -> int:
    """COPY CSV lines into staging `table`; returns the number of rows."""
    stream = _LineStream(lines)
    statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, STAGING[table].column_names))
    )
    cursor.copy_expert(statement.as_string(cursor), stream, size=1 << 20)
    return stream.count


@dataclass(frozen=True)
class LoadRun:
    """What a load is: its data time, the first day it reread, and its mode."""

    as_of: datetime  # timezone-aware
    window_start: date
    mode: str  # full or incremental
    started_at: datetime
    overstock_cover_days: float
    silver_loaded_through: datetime | None = None
    alert_min_probability: float = 0.3  # ALERT_MIN_PROBABILITY
    alert_close_probability: float = 0.2  # ALERT_CLOSE_PROBABILITY


def alert_conditions_of_staged_positions(cursor, schema: str, run: LoadRun) -> list[alerts.AlertCondition]:
    """The alert conditions of every position in this load (stock_model.alert_conditions)."""
    cursor.execute(gold_sql("load/evaluated_positions", schema))
    found = []
    for row in cursor.fetchall():
        (
            store_id,
            sku,
            on_hand,
            reorder,
            cover,
            stockout,
            quantity,
            ordered,
            probability,
            day_probability,
        ) = row[:10]
        expected, risk_open, received_since_open = row[10:]
        conditions = model.alert_conditions(
            on_hand=on_hand,
            probability=float(probability or 0),
            day_probability=float(day_probability or 0),
            cover=None if cover is None else float(cover),
            overstock_cover_days=run.overstock_cover_days,
            open_at=run.alert_min_probability,
            close_below=run.alert_close_probability,
            risk_open=risk_open,
            received_since_open=received_since_open,
        )
        found.extend(
            alerts.AlertCondition(
                store_id,
                sku,
                kind,
                severity,
                on_hand,
                round(float(reorder), 2),
                stockout,
                quantity,
                ordered,
                None if probability is None else round(float(probability), 4),
                expected,
            )
            for kind, severity in conditions.items()
        )
    return found


@dataclass(frozen=True)
class RowCounts:
    """Rows a load staged per staging table, and what the merges made of the sales."""

    staged: dict[str, int]
    fact_sales_inserted: int  # lines new to gold; lines it had already are left alone
    agg_sales_store_daily: int  # store-days recomputed


@dataclass(frozen=True)
class LoadResult:
    """What one committed load wrote: its `load_runs` row, its rows and its alert lifecycle."""

    run_id: int
    rows: RowCounts
    alerts: alerts.AlertCounts
    calibration: calibration.CalibrationMap  # the map the load's probabilities went through


def _day(run: LoadRun) -> date:
    return run.as_of.astimezone(UTC).date()


def fit_calibration(cursor, schema: str, as_of_day: date) -> calibration.CalibrationMap:
    """The calibration map of a load at `as_of_day`, fitted on gold's record (calibration.py).

    Call it after the snapshots of the load are merged: the closings of its window decide
    outcomes too.
    """
    cursor.execute(
        gold_sql("load/calibration_history", schema),
        {
            "as_of_day": as_of_day,
            "history_days": calibration.CALIBRATION_HISTORY_DAYS,
            "bins": calibration.CALIBRATION_BINS,
        },
    )
    bins = [calibration.CalibrationBin(int(b), int(n), float(p), int(k)) for b, n, p, k in cursor.fetchall()]
    return calibration.fit(bins, as_of_day)


def calibrate_staged_positions(cursor, schema: str, run: LoadRun) -> calibration.CalibrationMap:
    """Fit the map and stage the calibrated probability of every staged position; returns the map."""
    fitted = fit_calibration(cursor, schema, _day(run))
    cursor.execute(
        "select store_id, sku, stockout_probability_raw from stg_stock_position"
        " where stockout_probability_raw is not null"
    )
    calibrated = (
        (store_id, sku, round(fitted.apply(float(raw)), 6)) for store_id, sku, raw in cursor.fetchall()
    )
    CALIBRATED_PROBABILITY.fill(cursor, calibrated)
    return fitted


def _merge_staged(cursor, schema: str, run: LoadRun) -> tuple[int, int]:
    """Dimensions, facts, the daily and basket aggregates, snapshots, positions, forecasts, open
    orders and the promotion calendar, from staging.

    Returns (sales lines inserted, store-days of the aggregate recomputed).
    """
    cursor.execute(gold_sql("load/ensure_staged_dates", schema))
    cursor.execute(gold_sql("load/merge_dim_store", schema))
    cursor.execute(gold_sql("load/update_dim_product", schema))
    cursor.execute(gold_sql("load/insert_dim_product", schema))
    cursor.execute(gold_sql("load/unmatched_sales", schema))
    unmatched, store, sku = cursor.fetchone()
    if unmatched:
        raise LoadError(
            f"{unmatched} sales line(s) name a store or SKU gold does not know (e.g. store {store}, "
            f"SKU {sku}); silver should have quarantined them: check silver's reference checks"
        )
    cursor.execute(gold_sql("load/insert_fact_sales", schema))
    inserted = cursor.fetchone()[0]
    cursor.execute(gold_sql("load/refresh_agg_sales_store_daily", schema))
    store_days = cursor.fetchone()[0]
    cursor.execute(gold_sql("load/refresh_basket_aggregates", schema))
    cursor.execute(gold_sql("load/merge_inventory_snapshot", schema))
    fitted = calibrate_staged_positions(cursor, schema, run)
    cursor.execute(
        gold_sql("load/merge_stock_position", schema),
        {"as_of": run.as_of, "calibration_fitted_on": fitted.fitted_on, "calibration_rows": fitted.rows},
    )
    cursor.execute(gold_sql("load/record_raw_probabilities", schema), {"as_of_day": _day(run)})
    cursor.execute(gold_sql("load/replace_stock_forecast", schema), {"as_of": run.as_of})
    cursor.execute(gold_sql("load/replace_open_orders", schema), {"as_of": run.as_of})
    cursor.execute(gold_sql("load/replace_promotion_calendar", schema))
    return inserted, store_days, fitted


def load_gold(settings: Settings, schema: str, staged: dict[str, Iterable[str]], run: LoadRun) -> LoadResult:
    """Stage the CSV lines of each staging table and merge them all, in one transaction.

    `staged` maps staging table names (see staging.STAGING) to CSV lines; tables left out stage
    nothing.
    """
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute("set local timezone to 'UTC'")
        for table in STAGING.values():
            table.create(cursor)
        counts = {name: copy_lines(cursor, name, staged.get(name, ())) for name in STAGING}
        inserted, store_days, fitted = _merge_staged(cursor, schema, run)
        rows = RowCounts(counts, inserted, store_days)
        conditions = alert_conditions_of_staged_positions(cursor, schema, run)
        alert_counts = alerts.apply_lifecycle(cursor, schema, conditions, run.as_of)
        row_counts = {
            **counts,
            "fact_sales_inserted": inserted,
            "agg_sales_store_daily": store_days,
            **asdict(alert_counts),
        }
        before = f"committing a {run.mode} load into schema {schema}"
        require_lease(GOLD_STAGE, schema, before).check_in(cursor, before)
        cursor.execute(
            gold_sql("load/record_load_run", schema),
            {
                "mode": run.mode,
                "as_of": run.as_of,
                "window_start": run.window_start,
                "row_counts": json.dumps(row_counts, sort_keys=True),
                "started_at": run.started_at,
                "silver_loaded_through": run.silver_loaded_through,
            },
        )
        run_id = cursor.fetchone()[0]
    return LoadResult(run_id, rows, alert_counts, fitted)


@dataclass(frozen=True)
class PreviousLoad:
    as_of: datetime
    window_start: date
    silver_loaded_through: datetime | None


def last_load(settings: Settings, schema: str) -> PreviousLoad | None:
    """The newest load in gold, or None before the first."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(gold_sql("load/last_load", schema))
        row = cursor.fetchone()
    return PreviousLoad(*row) if row else None


def read_gold_snapshots(
    spark: SparkSession, settings: Settings, schema: str, first_day: date, last_day: date
) -> DataFrame:
    """(store_id, sku, day, sold, closing) of gold's inventory snapshots between two days, over JDBC.

    Spark reads it straight from PostgreSQL, in a few date ranges at once, so the stock model's
    history and anchors come from gold without passing through the driver.
    """
    first_key, last_key = (int(day.strftime("%Y%m%d")) for day in (first_day, last_day))
    query = (
        f'select store_id, sku, date_key, sold, closing_on_hand from "{schema}".fact_inventory_snapshot '
        f"where date_key between {first_key} and {last_key}"
    )
    frame = (
        spark.read.format("jdbc")
        .option(
            "url",
            f"jdbc:postgresql://{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}",
        )
        .option("driver", "org.postgresql.Driver")
        .option("user", settings.postgres_user)
        .option("password", settings.postgres_password)
        .option("sslmode", settings.postgres_sslmode)
        .option("dbtable", f"({query}) as snapshots")
        .option("partitionColumn", "date_key")
        .option("lowerBound", first_key)
        .option("upperBound", last_key + 1)
        .option("numPartitions", 4)
        .option("fetchsize", 10_000)
        .load()
    )
    return frame.select(
        "store_id",
        "sku",
        F.to_date(F.col("date_key").cast("string"), "yyyyMMdd").alias("day"),
        "sold",
        F.col("closing_on_hand").alias("closing"),
    )
