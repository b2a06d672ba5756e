"""Run the stock model on silver and load gold in one transaction (spark_jobs/gold/job.py)."""

from datetime import UTC, datetime

from lakehouse.config import load_settings
from lakehouse.locks import Skipped, run_exclusively
from spark_jobs.gold.job import run_silver_to_gold
from spark_jobs.schedule import gold_work, record_gold_run
from spark_jobs.session import spark_session

if "transformer" not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def build_gold_from_silver(migrated: dict, *args, **kwargs) -> dict:
    settings = load_settings()
    schema = migrated["gold_schema"]
    silver_bucket = kwargs.get("silver_bucket") or settings.silver_bucket
    full = str(kwargs.get("full", "false")).lower() == "true"
    work = "a full rebuild was asked for" if full else gold_work(settings, schema, silver_bucket)
    if work is None:
        print("gold: silver wrote nothing new; Spark not started")
        return {"schema": schema, "idle": True}
    print(f"gold: {work}")
    began = datetime.now(UTC)
    summary = run_exclusively(
        settings,
        "gold",
        schema,
        lambda: run_silver_to_gold(
            spark_session("silver-to-gold", settings),
            settings,
            silver_bucket,
            schema=schema,
            full=full,
            publish=False,
        ),
    )
    if isinstance(summary, Skipped):
        return {"schema": schema, "skipped": summary.reason}
    record_gold_run(settings, schema, began)
    done = summary.as_dict()  # Mage passes block outputs on as plain data
    print(f"gold: {done}")
    return done
