"""Each gold load is a fit of the stock model: its run record for MLflow (issue 19, tracked models).

After a load, `spool_fit` leaves a record in the tracking store's spool (lakehouse.model_tracking):
the model version and the gold parameters as MLflow parameters; the load's size and, over the
store-SKUs it evaluated, the mean level, elasticity, dispersion and stockout probability as
metrics; the per-category figures as an artifact (fit_summary.csv). The calibration map the
load's probabilities went through (calibration.py) is part of the fit: the day it was fitted
(parameter `calibration_fitted_on`, "identity" when it had too few rows), the known rows it saw
and its knots as metrics, and the knots themselves (raw, calibrated) as calibration_map.csv, so a
run says which map made the probabilities a store acted on. A file write, not MLflow
itself: loads run every minute, and `make mlflow` (or the alerts bench) logs what waits.

Tracking must never fail a load that committed: a record that cannot be written is reported on
stderr with the reason, and the load's result stands.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import asdict

from lakehouse.config import GoldSettings, Settings
from lakehouse.db import connect
from lakehouse.model_tracking import RunRecord, spool_record, store_dir
from spark_jobs.gold import load
from spark_jobs.gold.calibration import CalibrationMap
from spark_jobs.gold.sql_files import gold_sql
from spark_jobs.gold.stock_model import MODEL_VERSION

EXPERIMENT = "gold-fits"
PARAMETERS = (
    "ewma_alpha",
    "demand_history_days",
    "forecast_days",
    "service_level",
    "review_period_days",
    "default_lead_time_days",
    "alert_min_probability",
    "alert_close_probability",
)


def fit_record(
    config: GoldSettings, run: load.LoadRun, result: load.LoadResult, rows: list[tuple]
) -> RunRecord:
    """The run record of one load; rows are `queries/tracking/fit_summary` (one per category)."""
    settings = asdict(config)
    params: dict[str, str | int | float] = {name: settings[name] for name in PARAMETERS}
    params |= {"model_version": MODEL_VERSION, "mode": run.mode, "window_start": run.window_start.isoformat()}
    fitted = result.calibration
    params["calibration_fitted_on"] = "identity" if fitted.fitted_on is None else fitted.fitted_on.isoformat()
    store_skus = sum(row[1] for row in rows)

    def mean(column: int) -> float:
        weighted = [(row[column], row[1]) for row in rows if row[column] is not None]
        total = sum(count for _, count in weighted)
        return sum(value * count for value, count in weighted) / total if total else 0.0

    metrics = {
        "store_skus_evaluated": float(store_skus),
        "forecast_rows": float(result.rows.staged.get("stg_stock_forecast", 0)),
        "mean_level": mean(2),
        "mean_elasticity": mean(3),
        "mean_dispersion": mean(4),
        "mean_stockout_probability": mean(5),
        "store_skus_at_risk": float(sum(row[6] for row in rows)),
        "calibration_rows": float(fitted.rows),
        "calibration_knots": float(len(fitted.knots)),
    }
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(
        (
            "category",
            "store_skus",
            "mean_level",
            "mean_elasticity",
            "mean_dispersion",
            "mean_probability",
            "at_risk",
        )
    )
    writer.writerows(rows)
    return RunRecord(
        experiment=EXPERIMENT,
        run_name=f"gold load {result.run_id} as of {run.as_of.isoformat()}",
        params=params,
        metrics=metrics,
        tags={"model_version": MODEL_VERSION, "schema": config.schema, "load_run_id": str(result.run_id)},
        artifacts={"fit_summary.csv": table.getvalue(), "calibration_map.csv": calibration_table(fitted)},
    )


def calibration_table(fitted: CalibrationMap) -> str:
    """The map's knots as CSV (raw, calibrated), lowest first; only the header for the identity."""
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(("raw_probability", "calibrated_probability"))
    writer.writerows((round(raw, 6), round(calibrated, 6)) for raw, calibrated in fitted.knots)
    return table.getvalue()


def spool_fit(settings: Settings, config: GoldSettings, run: load.LoadRun, result: load.LoadResult) -> None:
    """Spool the MLflow record of a committed load; report on stderr, never raise, when it cannot."""
    try:
        with connect(settings) as connection, connection.cursor() as cursor:
            cursor.execute(
                gold_sql("queries/tracking/fit_summary", config.schema),
                {"as_of": run.as_of, "alert_min_probability": config.alert_min_probability},
            )
            rows = cursor.fetchall()
        spool_record(fit_record(config, run, result, rows), store_dir(settings))
    except Exception as error:  # the load committed: tracking is not worth failing it
        print(
            f"gold: the fit of load {result.run_id} was not tracked ({error}); the load stands",
            file=sys.stderr,
        )
