"""Load the POS journals waiting in landing/pos_csv/ into bronze (ingestion/csv_landing.py)."""

from ingestion.csv_landing import INGESTION_SCHEMA, STAGE, load_landed
from lakehouse.config import load_settings
from lakehouse.locks import Skipped, run_exclusively

if "data_exporter" not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def load_landed_csv_into_bronze(wake: dict, *args, **kwargs) -> dict:
    if not wake["waiting"]:
        return {"idle": True}
    settings = load_settings()
    bucket = kwargs.get("bucket") or settings.bronze_bucket
    summary = run_exclusively(
        settings,
        STAGE,
        bucket,
        lambda: load_landed(
            settings, bucket, kwargs.get("stream"), kwargs.get("ingestion_schema") or INGESTION_SCHEMA
        ),
    )
    if isinstance(summary, Skipped):
        return {"skipped": summary.reason}
    print(f"csv: {summary.as_dict()}")
    return summary.as_dict()
