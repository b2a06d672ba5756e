"""The gold settings that are not in `lakehouse.config.Settings` yet, read in this one place.

They follow the same precedence as Settings (`.env.example`, then `.env`, then the process
environment) and have defaults here until they are added to `.env.example`. Service level and
lead time are business choices, not code: a planner changes them without a release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakehouse.config import ConfigError, merged_environment

DEFAULTS: dict[str, str] = {
    # The PostgreSQL schema that holds gold; tests use a unique one each.
    "GOLD_SCHEMA": "gold",
    # Probability of not running out during a replenishment lead time (cycle service level).
    "SERVICE_LEVEL": "0.95",
    # Days from order to delivery when silver's product carries no lead_time_days.
    "DEFAULT_LEAD_TIME_DAYS": "3",
    # Days between two order reviews: stores order once a day at closing.
    "REVIEW_PERIOD_DAYS": "1",
    # Days of sales history behind the demand statistics and the day-of-week profile.
    "DEMAND_HISTORY_DAYS": "56",
    # Days forecast ahead.
    "FORECAST_DAYS": "14",
    # Smoothing weight of the newest day in the exponentially weighted mean.
    "EWMA_ALPHA": "0.2",
    # More days of cover than this is overstock.
    "OVERSTOCK_COVER_DAYS": "30",
    # An incremental load rereads this many days before the last load, for late events.
    "GOLD_LATE_DAYS": "2",
}

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class GoldConfig:
    schema: str
    service_level: float
    default_lead_time_days: int
    review_period_days: int
    demand_history_days: int
    forecast_days: int
    ewma_alpha: float
    overstock_cover_days: float
    late_days: int

    def with_schema(self, schema: str | None) -> GoldConfig:
        """The same configuration for another schema (tests and benchmarks use their own)."""
        if schema is None:
            return self
        return GoldConfig(**{**self.__dict__, "schema": check_schema_name(schema)})


def check_schema_name(name: str) -> str:
    """Schema names are spliced into SQL as identifiers, so only plain lower-case names pass."""
    if not _SCHEMA_NAME.match(name):
        raise ConfigError(f"GOLD_SCHEMA={name!r}: use lower-case letters, digits and _ (at most 63)")
    return name


def _number(name: str, raw: str, kind: type, low: float, high: float) -> float | int:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low} and {high}")
    return value


def load_gold_config(environ: dict[str, str] | None = None, *, read_files: bool = True) -> GoldConfig:
    """GoldConfig from the defaults above, `.env.example`, `.env` and the environment.

    With `read_files=False` only `environ` overrides the defaults, so tests pin every value.
    """
    source = merged_environment(environ=environ) if read_files else dict(environ or {})
    merged = DEFAULTS | {name: value for name, value in source.items() if name in DEFAULTS}
    return GoldConfig(
        schema=check_schema_name(merged["GOLD_SCHEMA"]),
        service_level=_number("SERVICE_LEVEL", merged["SERVICE_LEVEL"], float, 0.5, 0.9999),
        default_lead_time_days=_number(
            "DEFAULT_LEAD_TIME_DAYS", merged["DEFAULT_LEAD_TIME_DAYS"], int, 1, 365
        ),
        review_period_days=_number("REVIEW_PERIOD_DAYS", merged["REVIEW_PERIOD_DAYS"], int, 1, 90),
        demand_history_days=_number("DEMAND_HISTORY_DAYS", merged["DEMAND_HISTORY_DAYS"], int, 7, 730),
        forecast_days=_number("FORECAST_DAYS", merged["FORECAST_DAYS"], int, 1, 90),
        ewma_alpha=_number("EWMA_ALPHA", merged["EWMA_ALPHA"], float, 0.01, 1.0),
        overstock_cover_days=_number("OVERSTOCK_COVER_DAYS", merged["OVERSTOCK_COVER_DAYS"], float, 1, 3650),
        late_days=_number("GOLD_LATE_DAYS", merged["GOLD_LATE_DAYS"], int, 0, 365),
    )
