"""Publish new and escalated stock alerts to SNS, keyed by (alert_id, version): spark_jobs/gold/alerts.py."""

from lakehouse.config import load_settings
from spark_jobs.gold.alerts import publish_pending

if "data_exporter" not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def publish_stock_alerts(summary: dict, *args, **kwargs) -> dict:
    published = publish_pending(load_settings(), summary.get("schema"))
    print(f"alerts: {summary.get('alerts')}, published {published}")
    return {"published": published}
