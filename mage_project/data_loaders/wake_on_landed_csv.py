"""What wakes csv_to_bronze: S3 notifications on the landing queue, and a listing of landing/pos_csv/."""

from ingestion.csv_landing import wake_up
from lakehouse.config import load_settings

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def wake_on_landed_csv(*args, **kwargs) -> dict:
    return wake_up(load_settings(), bucket=kwargs.get("bucket")).as_dict()
