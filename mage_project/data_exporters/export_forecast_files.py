"""After a gold load: each store's forecast as CSV, Parquet and a manifest (spark_jobs/gold/exports.py)."""

from lakehouse.config import load_settings
from spark_jobs.gold.exports import ExportError, export_forecasts

if "data_exporter" not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_forecast_files(summary: dict, *args, **kwargs) -> dict:
    if "run_id" not in summary:
        print("exports: gold loaded nothing in this run; the forecast files stay as they are")
        return {"exported": False}
    try:
        done = export_forecasts(load_settings(), summary["schema"], summary["run_id"])
    except ExportError as error:  # gold is loaded and the alerts go out; only the files wait
        print(f"exports: {error}")
        return {"exported": False, "error": str(error)}
    print(f"exports: {done.rows} rows for {done.stores} stores in s3://{done.bucket}/forecasts/")
    return done.as_dict()
