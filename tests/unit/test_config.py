from pathlib import Path

import pytest

from lakehouse.config import ENV_EXAMPLE_FILE, REPO_ROOT, ConfigError, Settings, load_settings, read_env_file

pytestmark = pytest.mark.unit


def test_env_example_documents_every_setting():
    documented = set(read_env_file(ENV_EXAMPLE_FILE))
    expected = {name.upper() for name in Settings.__dataclass_fields__}
    assert expected <= documented, expected - documented


def test_every_documented_variable_is_read_somewhere():
    """A variable in .env.example that no code reads would be a setting that silently does nothing."""
    code = "\n".join(
        path.read_text()
        for folder in ("lakehouse", "spark_jobs", "ingestion", "producer", "ops")
        for path in (REPO_ROOT / folder).rglob("*.py")
    )
    settings_fields = {name.upper() for name in Settings.__dataclass_fields__}
    unread = {
        name for name in read_env_file(ENV_EXAMPLE_FILE) if name not in settings_fields and name not in code
    }
    assert not unread, unread


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
