"""Tracked models: the run records gold and the alerts bench hand to MLflow, and the spool."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from lakehouse.config import read_settings
from lakehouse.model_tracking import RunRecord, spool_record, tracking_uri
from spark_jobs.gold import alerts, calibration, fit_tracking, load
from spark_jobs.gold.stock_model import MODEL_VERSION

pytestmark = pytest.mark.unit


def test_a_spooled_record_is_whole_and_named_to_sort_by_time(tmp_path):
    record = RunRecord(
        "gold-fits", "load 7", {"ewma_alpha": 0.2}, {"mean_level": 2.5}, {"model_version": "x"}
    )
    first = spool_record(record, tmp_path)
    second = spool_record(record, tmp_path)
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == [first.name, second.name]
    assert first.name < second.name
    assert json.loads(first.read_text())["metrics"] == {"mean_level": 2.5}
    assert tracking_uri(tmp_path) == f"sqlite:///{tmp_path}/mlflow.db"


def test_a_gold_fit_record_weighs_categories_by_their_store_skus():
    config = read_settings(env_file=None, environ={}).gold
    as_of = datetime(2026, 11, 30, 11, tzinfo=UTC)
    run = load.LoadRun(as_of, date(2026, 11, 1), "full", as_of, config.overstock_cover_days)
    fitted = calibration.CalibrationMap(date(2026, 11, 30), 1250, ((0.05, 0.04), (0.55, 0.41)))
    result = load.LoadResult(
        41, load.RowCounts({"stg_stock_forecast": 56}, 0, 0), alerts.AlertCounts(1, 0, 0, 1), fitted
    )
    rows = [("dairy", 3, 2.0, 1.0, 0.5, 0.1, 0), ("snacks", 1, 6.0, None, 1.5, 0.9, 1)]
    record = fit_tracking.fit_record(config, run, result, rows)
    assert record.experiment == "gold-fits"
    assert record.tags["model_version"] == record.params["model_version"] == MODEL_VERSION
    assert record.params["ewma_alpha"] == config.ewma_alpha
    assert record.metrics["store_skus_evaluated"] == 4
    assert record.metrics["forecast_rows"] == 56
    assert record.metrics["mean_level"] == pytest.approx((3 * 2.0 + 6.0) / 4)
    assert record.metrics["mean_elasticity"] == pytest.approx(1.0)  # a category without one is left out
    assert record.metrics["mean_dispersion"] == pytest.approx((3 * 0.5 + 1.5) / 4)
    assert record.metrics["store_skus_at_risk"] == 1
    assert record.artifacts["fit_summary.csv"].splitlines()[1] == "dairy,3,2.0,1.0,0.5,0.1,0"
    assert record.params["calibration_fitted_on"] == "2026-11-30"
    assert record.metrics["calibration_rows"] == 1250
    assert record.metrics["calibration_knots"] == 2
    assert record.artifacts["calibration_map.csv"].splitlines() == [
        "raw_probability,calibrated_probability",
        "0.05,0.04",
        "0.55,0.41",
    ]


def test_a_gold_fit_record_names_the_identity_map_when_calibration_had_too_few_rows():
    config = read_settings(env_file=None, environ={}).gold
    as_of = datetime(2026, 11, 30, 11, tzinfo=UTC)
    run = load.LoadRun(as_of, date(2026, 11, 1), "full", as_of, config.overstock_cover_days)
    result = load.LoadResult(
        42, load.RowCounts({}, 0, 0), alerts.AlertCounts(0, 0, 0, 0), calibration.CalibrationMap(None, 37)
    )
    record = fit_tracking.fit_record(config, run, result, [])
    assert record.params["calibration_fitted_on"] == "identity"
    assert record.metrics["calibration_rows"] == 37
    assert record.metrics["calibration_knots"] == 0
    assert record.artifacts["calibration_map.csv"].splitlines() == ["raw_probability,calibrated_probability"]
