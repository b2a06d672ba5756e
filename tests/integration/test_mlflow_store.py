"""Tracked models (issue 19): a small alerts bench run lands in a real MLflow store with its
metrics, and a spooled gold fit is logged by the next sync. MLflow runs in its own environment
(.venv-mlflow, made by `make setup`); the store is read back with sqlite3, as MLflow wrote it."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from bench import bench_alerts
from lakehouse import model_tracking
from lakehouse.config import read_settings
from spark_jobs.gold.stock_model import MODEL_VERSION

pytestmark = pytest.mark.integration


@pytest.fixture
def small_bench(monkeypatch):
    """One seed of 2 stores x 20 SKUs over 30 days: a bench run of a few seconds."""
    for name, value in (("STORES", 2), ("PRODUCTS", 20), ("DAYS", 30), ("SEEDS", (60,))):
        monkeypatch.setattr(bench_alerts, name, value)


def _metrics(directory) -> dict[str, dict[str, float]]:
    """Run name -> {metric: last value} of every run in the store."""
    with sqlite3.connect(directory / "mlflow.db") as db:
        rows = db.execute(
            "select r.name, m.key, m.value from runs as r join metrics as m on m.run_uuid = r.run_uuid"
        ).fetchall()
    found: dict[str, dict[str, float]] = {}
    for run, key, value in rows:
        found.setdefault(run, {})[key] = value
    return found


def test_a_bench_run_and_a_spooled_gold_fit_appear_with_their_metrics(tmp_path, small_bench):
    if not model_tracking.TRACKING_VENV.joinpath("bin", "python").exists():
        pytest.fail(f"{model_tracking.TRACKING_VENV} is missing: run `make setup`")
    settings = dataclasses.replace(read_settings(env_file=None, environ={}), stack_run_dir=tmp_path)
    directory = model_tracking.store_dir(settings)
    fit = model_tracking.RunRecord(
        "gold-fits", "gold load 1", {"model_version": MODEL_VERSION}, {"mean_level": 2.5}
    )
    model_tracking.spool_record(fit, directory)

    rows = bench_alerts.run(settings)

    figures = {row["name"]: row["value"] for row in rows}
    runs = _metrics(directory)
    [bench_run] = [name for name in runs if name.startswith("alerts bench")]
    assert runs[bench_run]["model_AP"] == pytest.approx(figures["model AP"])
    assert runs[bench_run]["forecast_1-7_model_WAPE"] == pytest.approx(figures["forecast 1-7 model WAPE"])
    assert {"model_Brier", "forecast_1-7_model_MASE", "oracle_AP"} <= set(runs[bench_run])
    assert runs["gold load 1"] == {"mean_level": 2.5}
    assert not list((directory / "spool").glob("*.json"))  # logged, so no longer waiting
    with sqlite3.connect(directory / "mlflow.db") as db:
        tags = db.execute("select value from tags where key = 'model_version'").fetchall()
    assert set(tags) == {(MODEL_VERSION,)}
