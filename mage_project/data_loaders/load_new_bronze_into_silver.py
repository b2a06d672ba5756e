"""Take every bronze object not processed yet into silver (spark_jobs/silver/job.py)."""

from datetime import UTC, datetime

from lakehouse.config import load_settings
from lakehouse.locks import Skipped, run_exclusively
from spark_jobs.schedule import record_silver_run, silver_work
from spark_jobs.session import spark_session
from spark_jobs.silver.job import run_bronze_to_silver

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader
if "test" not in globals():
    from mage_ai.data_preparation.decorators import test


@data_loader
def load_new_bronze_into_silver(*args, **kwargs) -> dict:
    # Runtime variables `stream`, `bronze_bucket` and `silver_bucket` override .env.
    settings = load_settings()
    stream = kwargs.get("stream") or settings.kinesis_stream
    bronze_bucket = kwargs.get("bronze_bucket") or settings.bronze_bucket
    silver_bucket = kwargs.get("silver_bucket") or settings.silver_bucket
    work = silver_work(settings, stream, bronze_bucket, silver_bucket)
    if work is None:
        print("silver: nothing new in bronze; Spark not started")
        return {"idle": True, "reconciliation_holds": True}
    print(f"silver: {work}")
    began = datetime.now(UTC)
    summary = run_exclusively(
        settings,
        "silver",
        silver_bucket,
        lambda: run_bronze_to_silver(
            spark_session("bronze-to-silver", settings),
            settings,
            stream=stream,
            bronze_bucket=bronze_bucket,
            silver_bucket=silver_bucket,
        ),
    )
    if isinstance(summary, Skipped):
        # Nothing was read, so nothing is unaccounted.
        return {"skipped": summary.reason, "reconciliation_holds": True}
    record_silver_run(settings, began, summary)
    print(f"silver: {summary}")
    for warning in summary.quality.get("warnings", []):
        print(f"silver quality warning: {warning}")
    for key in summary.held_objects:  # a failed critical gate holds its batch (spark_jobs/silver/held.py)
        print(f"silver held {key}: {summary.held_reason}; replay after a fix: make replay-held")
    for key, why in summary.dead_letters.items():
        print(f"silver dead letter {key}: {why}")
    return summary.as_dict()


@test
def every_bronze_line_is_accounted_for(output: dict, *args) -> None:
    assert output["reconciliation_holds"], f"bronze lines != accepted + quarantined: {output}"
