from pathlib import Path

import pytest

from lakehouse.config import (
    ENV_EXAMPLE_FILE,
    ConfigError,
    load_settings,
    read_env_file,
    read_settings,
    reload_settings,
    setting_variables,
)

pytestmark = pytest.mark.unit


def test_env_example_documents_every_setting():
    documented = set(read_env_file(ENV_EXAMPLE_FILE))
    expected = set(setting_variables())
    assert expected <= documented, expected - documented


def test_every_documented_variable_is_read_somewhere():
    """A variable in .env.example that Settings does not read would be a setting that does nothing."""
    unread = set(read_env_file(ENV_EXAMPLE_FILE)) - set(setting_variables())
    assert not unread, unread


def test_a_variable_is_read_by_one_field_only():
    variables = setting_variables()
    assert len(variables) == len(set(variables))


def test_the_process_reads_its_settings_once(monkeypatch):
    first = load_settings()
    assert load_settings() is first
    monkeypatch.setenv("LIVE_POLL_SECONDS", "7.5")
    assert load_settings().live.poll_seconds == first.live.poll_seconds
    assert reload_settings().live.poll_seconds == 7.5
    monkeypatch.undo()
    reload_settings()


def test_sections_read_their_variables_with_types():
    settings = read_settings(
        env_file=None,
        environ={"SERVICE_LEVEL": "0.99", "GOLD_SCHEMA": "gold_x", "SILVER_LOOKBACK_HOURS": "5"},
    )
    assert settings.gold.service_level == 0.99
    assert settings.gold.schema == "gold_x"
    assert settings.gold.with_schema("other").schema == "other"
    assert settings.gold.with_schema(None).schema == "gold_x"
    assert settings.silver.lookback_hours == 5
    assert settings.live.poll_seconds == float(read_env_file(ENV_EXAMPLE_FILE)["LIVE_POLL_SECONDS"])
    assert settings.demo.stores == int(read_env_file(ENV_EXAMPLE_FILE)["DEMO_STORES"])


def test_defaults_come_from_env_example(tmp_path: Path):
    settings = load_settings(env_file=tmp_path / "missing.env", environ={})
    assert settings.kinesis_stream == read_env_file(ENV_EXAMPLE_FILE)["KINESIS_STREAM"]
    assert settings.postgres_port == int(read_env_file(ENV_EXAMPLE_FILE)["POSTGRES_PORT"])
    assert settings.spark_ui_enabled is False


def test_env_file_overrides_example_and_environment_overrides_both(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "KINESIS_STREAM=from-file\nPOSTGRES_PORT='6000'\n# comment\n\nexport MAGE_PORT=7000\n"
    )
    settings = load_settings(env_file=env_file, environ={"POSTGRES_PORT": "6001"})
    assert settings.kinesis_stream == "from-file"
    assert settings.mage_port == 7000
    assert settings.postgres_port == 6001


def test_empty_endpoint_means_real_aws(tmp_path: Path):
    settings = load_settings(env_file=None, environ={"AWS_ENDPOINT_URL": ""})
    assert settings.aws_endpoint_url is None
    assert not settings.uses_localstack


def test_relative_paths_are_relative_to_the_repository():
    settings = load_settings(env_file=None, environ={"SPARK_JARS_DIR": "some/jars"})
    assert settings.spark_jars_dir.is_absolute()
    assert settings.spark_jars_dir.parts[-2:] == ("some", "jars")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("POSTGRES_PORT", "five", "POSTGRES_PORT='five' is not a whole number"),
        ("SPARK_UI_ENABLED", "maybe", "SPARK_UI_ENABLED='maybe' is not a boolean"),
        ("SERVICE_LEVEL", "1.5", "SERVICE_LEVEL='1.5' must be between"),
        ("SERVICE_LEVEL", "high", "SERVICE_LEVEL='high' is not a number"),
        ("GOLD_SCHEMA", "Gold; drop", "GOLD_SCHEMA="),
        ("FORECAST_DAYS", "0", "FORECAST_DAYS='0' must be between"),
        ("LIVE_POLL_SECONDS", "soon", "LIVE_POLL_SECONDS='soon' is not a number"),
        ("SILVER_MAX_QUARANTINE_SHARE", "2", "SILVER_MAX_QUARANTINE_SHARE='2' must be between"),
        ("DEMO_STORES", "eight", "DEMO_STORES='eight' is not a whole number"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str):
    with pytest.raises(ConfigError, match=message):
        load_settings(env_file=None, environ={name: value})


def test_malformed_env_line_names_file_and_line(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("GOOD=1\nthis is not a setting\n")
    with pytest.raises(ConfigError, match=r"\.env:2: expected KEY=value"):
        read_env_file(env_file)


def test_postgres_url_carries_port_and_database():
    settings = load_settings(env_file=None, environ={"POSTGRES_PORT": "6010", "POSTGRES_DB": "gold"})
    assert settings.postgres_url.endswith("@127.0.0.1:6010/gold")


def test_stage_roles_are_typed_and_the_role_prefix_is_checked():
    assert read_settings(env_file=None, environ={}).stage_roles.enabled is True
    assert read_settings(env_file=None, environ={"AWS_STAGE_ROLES": "false"}).stage_roles.enabled is False
    prefix = read_env_file(ENV_EXAMPLE_FILE)["AWS_IAM_NAME_PREFIX"]
    assert read_settings(env_file=None, environ={}).stage_roles.name_prefix == prefix
    with pytest.raises(ConfigError, match="AWS_IAM_NAME_PREFIX"):
        read_settings(env_file=None, environ={"AWS_IAM_NAME_PREFIX": "has space"})


def test_the_principals_the_stage_roles_trust_are_iam_arns():
    assert read_settings(env_file=None, environ={}).stage_roles.trusted_principals == ()
    named = "arn:aws:iam::123456789012:role/ecs/stages, arn:aws:iam::123456789012:user/ci"
    roles = read_settings(env_file=None, environ={"AWS_STAGE_ROLE_PRINCIPALS": named}).stage_roles
    assert roles.trusted_principals == (
        "arn:aws:iam::123456789012:role/ecs/stages",
        "arn:aws:iam::123456789012:user/ci",
    )
    session = "arn:aws:sts::123456789012:assumed-role/stages/task-1"  # a session, not a principal
    with pytest.raises(ConfigError, match="AWS_STAGE_ROLE_PRINCIPALS"):
        read_settings(env_file=None, environ={"AWS_STAGE_ROLE_PRINCIPALS": session})
