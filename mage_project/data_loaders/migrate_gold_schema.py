"""Check that the gold schema is migrated; the loader this runs as cannot migrate (`make gold-migrate`)."""

from lakehouse.config import load_settings
from spark_jobs.gold.migrate import require_migrated

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def migrate_gold_schema(*args, **kwargs) -> dict:
    # Runtime variable `gold_schema` overrides GOLD_SCHEMA (tests use their own schema).
    settings = load_settings()
    schema = kwargs.get("gold_schema") or settings.gold.schema
    require_migrated(settings, schema)
    return {"gold_schema": schema, "migrated": True}
