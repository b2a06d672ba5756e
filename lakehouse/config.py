"""The project's one configuration: `.env` at the repository root, overridden by the environment.

Every process reads it through `load_settings()`, once: the call without arguments returns the
same `Settings` for the life of the process, so a long-running loop does not re-read files on
every pass. `.env.example` documents every variable and holds its default; a value that does not
parse, or lies outside its range, is a ConfigError that names the variable.

`Settings` holds the platform (AWS, PostgreSQL, Spark, Mage) as plain fields and each stage's
knobs as a typed section (`settings.silver`, `settings.gold`, `settings.live`,
`settings.ingestion`, `settings.files`, `settings.demo`, `settings.dashboard`, `settings.api`,
`settings.tracking`, `settings.stage_roles`, `settings.containers`). Pointing
`AWS_ENDPOINT_URL` at real AWS (or leaving it empty) and `SPARK_MASTER` at a cluster is all it
takes to leave the laptop.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = REPO_ROOT / ".env"
ENV_EXAMPLE_FILE = REPO_ROOT / ".env.example"

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a dotenv file: `KEY=value` lines, `#` comments, optional quotes around values."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"{path}:{number}: expected KEY=value, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def variable(name: str, low: float | None = None, high: float | None = None) -> Any:
    """A section field read from the environment variable `name`, within [low, high] if given."""
    return field(metadata={"variable": name, "low": low, "high": high})


def check_schema_name(name: str) -> str:
    """Schema names are spliced into SQL as identifiers, so only plain lower-case names pass."""
    if not _SCHEMA_NAME.match(name):
        raise ConfigError(f"GOLD_SCHEMA={name!r}: use lower-case letters, digits and _ (at most 63)")
    return name


@dataclass(frozen=True)
class SilverSettings:
    """Knobs of a bronze-to-silver run (spark_jobs/silver)."""

    future_tolerance_seconds: int = variable("SILVER_FUTURE_TOLERANCE_SECONDS", 0, 86_400 * 365)
    lookback_hours: int = variable("SILVER_LOOKBACK_HOURS", 0, 24 * 365)
    max_objects_per_run: int = variable("SILVER_MAX_OBJECTS_PER_RUN", 0, 10_000_000)
    max_quarantine_share: float = variable("SILVER_MAX_QUARANTINE_SHARE", 0.0, 1.0)


@dataclass(frozen=True)
class GoldSettings:
    """The stock model and gold's load (spark_jobs/gold). Service level and lead time are business
    choices, not code: a planner changes them without a release."""

    schema: str = variable("GOLD_SCHEMA")
    service_level: float = variable("SERVICE_LEVEL", 0.5, 0.9999)
    default_lead_time_days: int = variable("DEFAULT_LEAD_TIME_DAYS", 1, 365)
    review_period_days: int = variable("REVIEW_PERIOD_DAYS", 1, 90)
    demand_history_days: int = variable("DEMAND_HISTORY_DAYS", 7, 730)
    forecast_days: int = variable("FORECAST_DAYS", 1, 90)
    ewma_alpha: float = variable("EWMA_ALPHA", 0.01, 1.0)
    overstock_cover_days: float = variable("OVERSTOCK_COVER_DAYS", 1, 3650)
    late_days: int = variable("GOLD_LATE_DAYS", 0, 365)
    alert_min_probability: float = variable("ALERT_MIN_PROBABILITY", 0, 1)
    alert_close_probability: float = variable("ALERT_CLOSE_PROBABILITY", 0, 1)

    def __post_init__(self) -> None:
        check_schema_name(self.schema)

    def with_schema(self, schema: str | None) -> GoldSettings:
        """The same settings for another schema (tests and benchmarks use their own)."""
        return self if schema is None else dataclasses.replace(self, schema=schema)


@dataclass(frozen=True)
class LiveSettings:
    """The continuous path, the pos_live Mage pipeline (spark_jobs/live.py)."""

    poll_seconds: float = variable("LIVE_POLL_SECONDS", 0.0, 3600.0)


@dataclass(frozen=True)
class IngestionSettings:
    """Kinesis to bronze (ingestion/) when it runs continuously (kinesis_to_bronze_stream)."""

    stream_poll_seconds: float = variable("BRONZE_STREAM_POLL_SECONDS", 0.0, 3600.0)


@dataclass(frozen=True)
class FilesSettings:
    """Files in and out of the lake: store POS journals uploaded as CSV (ingestion/csv_*.py, Mage
    csv_to_bronze) and the forecast files written after each gold load (spark_jobs/gold/exports.py)."""

    landing_queue: str = variable("CSV_LANDING_QUEUE")
    exports_bucket: str = variable("EXPORTS_BUCKET")


@dataclass(frozen=True)
class DemoSettings:
    """`make demo` (ops/demo.py): the simulated chain, its history and the live phase."""

    backfill_days: float = variable("DEMO_BACKFILL_DAYS", 0.0, 3650.0)
    stores: int = variable("DEMO_STORES", 1, 1000)
    products: int = variable("DEMO_PRODUCTS", 1, 100_000)
    live_seconds: float = variable("DEMO_LIVE_SECONDS", 0.0, 86_400.0)
    rate: float = variable("DEMO_RATE", 0.01, 10_000.0)
    seed: int = variable("DEMO_SEED")


@dataclass(frozen=True)
class DashboardSettings:
    """The dashboard (dashboard/, `make dashboard`): where it listens, how long a query may run, and
    the passwords of the demo logins `make demo` creates (`make setup` generates them when empty)."""

    host: str = variable("DASHBOARD_HOST")
    port: int = variable("DASHBOARD_PORT", 1, 65535)
    statement_timeout_ms: int = variable("DASHBOARD_STATEMENT_TIMEOUT_MS", 100, 600_000)
    demo_analyst_password: str = variable("DASHBOARD_DEMO_ANALYST_PASSWORD")
    demo_manager_password: str = variable("DASHBOARD_DEMO_MANAGER_PASSWORD")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class ApiSettings:
    """The read API (api/, `make api`): where it listens, how long a request's query may run, how
    long a token issued by POST /tokens stands for its login, and how many connections per login it
    keeps open for how long (0 per login: a new connection for every request)."""

    host: str = variable("API_HOST")
    port: int = variable("API_PORT", 1, 65535)
    statement_timeout_ms: int = variable("API_STATEMENT_TIMEOUT_MS", 100, 600_000)
    token_ttl_seconds: int = variable("API_TOKEN_TTL_SECONDS", 60, 604_800)
    pool_per_login: int = variable("API_POOL_PER_LOGIN", 0, 64)
    pool_idle_seconds: int = variable("API_POOL_IDLE_SECONDS", 1, 3600)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class TrackingSettings:
    """MLflow's UI over the tracked models (`make mlflow`, lakehouse/model_tracking.py): the port it
    listens on, on 127.0.0.1 only; its store is <STACK_RUN_DIR>/mlflow."""

    mlflow_port: int = variable("MLFLOW_PORT", 1, 65535)


@dataclass(frozen=True)
class ContainerSettings:
    """The compose stack (STACK_MODE=docker): the command that runs docker-compose.yml and the
    images it starts or builds on. The defaults are the upstream images a laptop pulls; a machine
    without Docker Hub points them at stand-ins built locally (ops/stack/standins.py), and
    docker-compose.yml repeats each default after `:-`, which a unit test keeps equal."""

    compose_command: str = variable("COMPOSE_COMMAND")
    python_image: str = variable("PYTHON_IMAGE")
    localstack_image: str = variable("LOCALSTACK_IMAGE")
    postgres_image: str = variable("POSTGRES_IMAGE")

    def __post_init__(self) -> None:
        if not self.compose_command.split():
            raise ConfigError("COMPOSE_COMMAND is empty: use `docker compose` or `podman-compose`")

    def image_environment(self) -> dict[str, str]:
        """The image variables as docker-compose.yml reads them."""
        return {
            "PYTHON_IMAGE": self.python_image,
            "LOCALSTACK_IMAGE": self.localstack_image,
            "POSTGRES_IMAGE": self.postgres_image,
        }


_IAM_NAME_PREFIX = re.compile(r"^[\w+=,.@-]{1,54}$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:(root|(user|role)/[\w+=,.@/-]+)$")


@dataclass(frozen=True)
class StageRoleSettings:
    """Per-stage AWS credentials (lakehouse/stage_credentials.py): with `enabled`, the producer,
    ingestion, Spark and alerts code each assume their own IAM role `<name_prefix>-<stage>` through
    STS instead of using the static key; the bootstrap and Terraform name the roles with the same
    prefix. Admin code (the bootstrap, `make status`, tests' setup) keeps the static key."""

    enabled: bool = variable("AWS_STAGE_ROLES")
    name_prefix: str = variable("AWS_IAM_NAME_PREFIX")
    # Comma-separated IAM ARNs the roles trust; empty: whoever runs the bootstrap or Terraform.
    principals: str = variable("AWS_STAGE_ROLE_PRINCIPALS")

    @property
    def trusted_principals(self) -> tuple[str, ...]:
        """The principals named in AWS_STAGE_ROLE_PRINCIPALS, in order; () when it is empty."""
        return tuple(item.strip() for item in self.principals.split(",") if item.strip())

    def __post_init__(self) -> None:
        for principal in self.trusted_principals:
            if not _PRINCIPAL_ARN.match(principal):
                raise ConfigError(
                    f"AWS_STAGE_ROLE_PRINCIPALS: {principal!r} is not the IAM ARN of a role, a user or "
                    "an account (arn:aws:iam::<account>:role/<name>, :user/<name> or :root); leave it "
                    "empty to trust the principal that runs `make up` or Terraform"
                )
        # Room for the longest suffix, -ingestion, within IAM's 64 characters of a role name.
        if not _IAM_NAME_PREFIX.match(self.name_prefix):
            raise ConfigError(
                f"AWS_IAM_NAME_PREFIX={self.name_prefix!r}: use 1-54 letters, digits or +=,.@_- "
                "(IAM role names are at most 64 characters)"
            )


@dataclass(frozen=True)
class Settings:
    """Every setting of the project; field names are the lower-cased variable names."""

    stack_mode: str
    stack_run_dir: Path

    aws_region: str
    aws_access_key_id: str
    aws_secret_access_key: str
    aws_endpoint_url: str | None
    localstack_host: str
    localstack_port: int
    aws_endpoint_url_s3: str | None
    s3_host: str
    s3_port: int

    kinesis_stream: str
    kinesis_shards: int
    kinesis_get_records_limit: int
    bronze_bucket: str
    silver_bucket: str
    alerts_topic: str
    alerts_queue: str

    postgres_host: str
    postgres_port: int
    postgres_db: str
    postgres_user: str
    postgres_password: str
    postgres_owner_user: str
    postgres_owner_password: str
    postgres_sslmode: str

    spark_master: str
    spark_driver_memory: str
    spark_local_ip: str
    spark_jars_dir: Path
    spark_ui_enabled: bool

    mage_host: str
    mage_port: int
    mage_data_dir: Path
    mage_owner_email: str
    mage_owner_password: str

    silver: SilverSettings
    gold: GoldSettings
    live: LiveSettings
    ingestion: IngestionSettings
    files: FilesSettings
    demo: DemoSettings
    dashboard: DashboardSettings
    api: ApiSettings
    tracking: TrackingSettings
    stage_roles: StageRoleSettings
    containers: ContainerSettings

    @property
    def postgres_url(self) -> str:
        """The same connection as a URL, for psql and SQLAlchemy."""
        return (
            f"postgresql://{self.postgres_user}:{self.postgres_password}"
            f"@{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"
        )

    @property
    def postgres_owner(self) -> tuple[str, str]:
        """(user, password) of the role that owns gold and ingestion and runs their migrations.

        An `.env` from before the owner/loader split has no POSTGRES_OWNER_PASSWORD: its
        POSTGRES_USER, then the cluster's superuser, stays both until the cluster is made anew.
        """
        if not self.postgres_owner_password:
            return self.postgres_user, self.postgres_password
        return self.postgres_owner_user, self.postgres_owner_password

    @property
    def mage_url(self) -> str:
        return f"http://{self.mage_host}:{self.mage_port}"

    @property
    def uses_localstack(self) -> bool:
        """True when AWS calls go to an emulator rather than to real AWS."""
        return bool(self.aws_endpoint_url)


SECTIONS = (
    SilverSettings,
    GoldSettings,
    LiveSettings,
    IngestionSettings,
    FilesSettings,
    DemoSettings,
    DashboardSettings,
    ApiSettings,
    TrackingSettings,
    StageRoleSettings,
    ContainerSettings,
)


def _as_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean; use true or false")


def _as_number(name: str, value: str, kind: type, low: float | None, high: float | None) -> float | int:
    try:
        number = kind(value)
    except ValueError:
        what = "whole number" if kind is int else "number"
        raise ConfigError(f"{name}={value!r} is not a {what}; fix it in .env (see .env.example)") from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise ConfigError(f"{name}={value!r} must be between {low:g} and {high:g}; fix it in .env")
    return number


def _as_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def _parse(name: str, raw: str, kind: Any, low: float | None = None, high: float | None = None) -> Any:
    if kind is bool:
        return _as_bool(name, raw)
    if kind in (int, float):
        return _as_number(name, raw, kind, low, high)
    if kind is Path:
        return _as_path(raw)
    if kind == str | None:
        return raw or None
    return raw


def _lookup(merged: Mapping[str, str], name: str) -> str:
    if name not in merged:
        raise ConfigError(f"{name} is not set: add it to .env (see .env.example)")
    return merged[name]


def section_variables(section: type) -> list[str]:
    """The environment variables a section reads, in field order."""
    return [item.metadata["variable"] for item in fields(section)]


def setting_variables() -> list[str]:
    """Every variable Settings reads: the platform fields, then each section's."""
    plain = [item.name.upper() for item in fields(Settings) if item.type not in _SECTION_NAMES]
    return plain + [name for section in SECTIONS for name in section_variables(section)]


_SECTION_NAMES = {section.__name__ for section in SECTIONS}


def _read_section(section: type, merged: Mapping[str, str]) -> Any:
    hints = get_type_hints(section)
    values = {
        item.name: _parse(
            item.metadata["variable"],
            _lookup(merged, item.metadata["variable"]),
            hints[item.name],
            item.metadata["low"],
            item.metadata["high"],
        )
        for item in fields(section)
    }
    return section(**values)


def merged_environment(
    env_file: Path | None = ENV_FILE, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`.env.example` defaults, overridden by `.env`, overridden by the process environment."""
    merged = read_env_file(ENV_EXAMPLE_FILE)
    if env_file is not None and env_file.exists():
        merged.update(read_env_file(env_file))
    merged.update(os.environ if environ is None else environ)
    return merged


def read_settings(env_file: Path | None = ENV_FILE, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `.env.example` defaults, then `env_file`, then `environ` (the process's if None).

    `read_settings(env_file=None, environ={})` is `.env.example` alone: what tests pin.
    """
    merged = merged_environment(env_file, environ)
    hints = get_type_hints(Settings)
    values: dict[str, object] = {}
    for item in fields(Settings):
        kind = hints[item.name]
        if kind in SECTIONS:
            values[item.name] = _read_section(kind, merged)
        else:
            name = item.name.upper()
            values[item.name] = _parse(name, _lookup(merged, name), kind)
    return Settings(**values)


@functools.cache
def _process_settings() -> Settings:
    return read_settings()


def load_settings(env_file: Path | None = ENV_FILE, environ: Mapping[str, str] | None = None) -> Settings:
    """This process's Settings, read once; with arguments, a fresh read of exactly those sources."""
    if env_file == ENV_FILE and environ is None:
        return _process_settings()
    return read_settings(env_file, environ)


def reload_settings() -> Settings:
    """Forget the settings read so far and read them again (after changing the environment)."""
    _process_settings.cache_clear()
    return _process_settings()
