"""Batch: drain every shard of the POS stream into bronze, from the checkpoints, then exit."""

from ingestion.drain import drain
from lakehouse.config import load_settings

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def drain_kinesis_to_bronze(*args, **kwargs) -> dict:
    # Runtime variables `stream` and `bucket` override .env (tests use their own names).
    summary = drain(load_settings(), stream=kwargs.get("stream"), bucket=kwargs.get("bucket"))
    print(f"bronze: {summary.as_dict()}")
    return summary.as_dict()
