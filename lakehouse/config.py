"""The project's one configuration: `.env` at the repository root, overridden by the environment.

The producer, the Spark jobs, the Mage blocks, the stack manager and the tests all read
`load_settings()`, so pointing `AWS_ENDPOINT_URL` at real AWS (or leaving it empty) and
`SPARK_MASTER` at a cluster is all it takes to leave the laptop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = REPO_ROOT / ".env"
ENV_EXAMPLE_FILE = REPO_ROOT / ".env.example"


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

    spark_master: str
    spark_driver_memory: str
    spark_local_ip: str
    spark_jars_dir: Path
    spark_ui_enabled: bool

    mage_host: str
    mage_port: int
    mage_data_dir: Path

    @property
    def postgres_url(self) -> str:
        """The same connection as a URL, for psql and SQLAlchemy."""
        return (
            f"postgresql://{self.postgres_user}:{self.postgres_password}"
            f"@{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"
        )

    @property
    def mage_url(self) -> str:
        return f"http://{self.mage_host}:{self.mage_port}"

    @property
    def uses_localstack(self) -> bool:
        """True when AWS calls go to an emulator rather than to real AWS."""
        return bool(self.aws_endpoint_url)


def _as_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean; use true or false")


def _as_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a whole number") from None


def _as_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def merged_environment(
    env_file: Path | None = ENV_FILE, environ: dict[str, str] | None = None
) -> dict[str, str]:
    """`.env.example` defaults, overridden by `.env`, overridden by the process environment."""
    merged = read_env_file(ENV_EXAMPLE_FILE)
    if env_file is not None and env_file.exists():
        merged.update(read_env_file(env_file))
    merged.update(os.environ if environ is None else environ)
    return merged


def load_settings(env_file: Path | None = ENV_FILE, environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from `.env.example` defaults, then `.env`, then the process environment.

    `.env.example` documents every variable and supplies its default, so a fresh checkout
    works before `.env` exists; a variable missing from all three is a ConfigError.
    """
    merged = merged_environment(env_file, environ)
    values: dict[str, object] = {}
    for field in fields(Settings):
        name = field.name.upper()
        if name not in merged:
            raise ConfigError(f"{name} is not set: add it to .env (see .env.example)")
        raw = merged[name]
        kind = field.type  # a string: this module uses postponed annotations
        if kind == "int":
            values[field.name] = _as_int(name, raw)
        elif kind == "bool":
            values[field.name] = _as_bool(name, raw)
        elif kind == "Path":
            values[field.name] = _as_path(raw)
        elif kind == "str | None":
            values[field.name] = raw or None
        else:
            values[field.name] = raw
    return Settings(**values)
