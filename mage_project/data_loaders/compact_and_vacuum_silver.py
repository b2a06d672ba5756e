"""OPTIMIZE then VACUUM every silver table under silver's stage (spark_jobs/silver/maintenance.py)."""

from lakehouse.config import load_settings
from lakehouse.locks import Skipped, run_exclusively
from spark_jobs.session import s3a_uri, spark_session
from spark_jobs.silver.maintenance import DEFAULT_RETENTION_HOURS, compact_and_vacuum
from spark_jobs.silver.tables import SILVER_STAGE

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def compact_and_vacuum_silver(*args, **kwargs) -> dict:
    # Runtime variables `silver_bucket` and `retention_hours` override .env and the default.
    settings = load_settings()
    bucket = kwargs.get("silver_bucket") or settings.silver_bucket
    retention = float(kwargs.get("retention_hours") or DEFAULT_RETENTION_HOURS)
    summary = run_exclusively(
        settings,
        SILVER_STAGE,
        bucket,
        lambda: compact_and_vacuum(
            spark_session("silver-maintenance", settings), s3a_uri(bucket), retention_hours=retention
        ),
    )
    if isinstance(summary, Skipped):
        # bronze_to_silver or pos_live is writing silver: maintenance waits for its next run.
        return {"skipped": summary.reason}
    print(f"silver maintenance: {summary}")
    return summary
