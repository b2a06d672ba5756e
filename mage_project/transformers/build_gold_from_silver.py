"""Run the stock model on silver and load gold in one transaction (spark_jobs/gold/job.py)."""

from lakehouse.config import load_settings
from lakehouse.locks import Skipped, run_exclusively
from spark_jobs.gold.job import run_silver_to_gold
from spark_jobs.session import spark_session

if "transformer" not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def build_gold_from_silver(migrated: dict, *args, **kwargs) -> dict:
    settings = load_settings()
    schema = migrated["gold_schema"]
    summary = run_exclusively(
        settings,
        "gold",
        schema,
        lambda: run_silver_to_gold(
            spark_session("silver-to-gold", settings),
            settings,
            kwargs.get("silver_bucket"),
            schema=schema,
            full=str(kwargs.get("full", "false")).lower() == "true",
            publish=False,
        ),
    )
    if isinstance(summary, Skipped):
        return {"schema": schema, "skipped": summary.reason}
    done = summary.as_dict()  # Mage passes block outputs on as plain data
    print(f"gold: {done}")
    return done
