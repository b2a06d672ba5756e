"""Gold settings: defaults, overrides and errors that name the variable."""

from __future__ import annotations

import pytest

from lakehouse.config import ConfigError
from spark_jobs.gold.config import load_gold_config

pytestmark = pytest.mark.unit


def test_defaults():
    config = load_gold_config({}, read_files=False)
    assert config.schema == "gold"
    assert config.service_level == 0.95
    assert config.default_lead_time_days == 3
    assert config.forecast_days == 14


def test_environment_overrides_and_schema_switch():
    config = load_gold_config({"SERVICE_LEVEL": "0.99", "GOLD_SCHEMA": "gold_x"}, read_files=False)
    assert config.service_level == 0.99
    assert config.with_schema("other").schema == "other"
    assert config.with_schema(None).schema == "gold_x"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SERVICE_LEVEL", "1.5", "SERVICE_LEVEL='1.5' must be between"),
        ("SERVICE_LEVEL", "high", "SERVICE_LEVEL='high' is not a float"),
        ("GOLD_SCHEMA", "Gold; drop", "GOLD_SCHEMA="),
        ("FORECAST_DAYS", "0", "FORECAST_DAYS='0' must be between"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_gold_config({name: value}, read_files=False)
