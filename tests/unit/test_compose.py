"""docker-compose.yml cannot be started here (no Docker engine), so its structure is checked."""

import re
from pathlib import Path

import pytest
import yaml

from lakehouse.config import ENV_EXAMPLE_FILE, REPO_ROOT, read_env_file
from lakehouse.jars import S3PROXY
from ops.stack.components import LOCALSTACK_SERVICES
from ops.stack.mage_guard import guarded_hosts, owner_login, refusal

pytestmark = pytest.mark.unit

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_the_six_services_are_there(compose: dict):
    assert set(compose["services"]) == {"s3", "localstack", "postgres", "mage", "dashboard", "api"}


@pytest.mark.parametrize("service", ["s3", "localstack", "postgres", "mage", "dashboard", "api"])
def test_every_service_has_a_healthcheck(compose: dict, service: str):
    assert compose["services"][service]["healthcheck"]["test"]


@pytest.mark.parametrize("service", ["s3", "localstack", "postgres", "mage", "dashboard", "api"])
def test_ports_are_published_on_loopback_only(compose: dict, service: str):
    ports = compose["services"][service]["ports"]
    assert ports and all(str(port).startswith("127.0.0.1:") for port in ports)


# `${NAME:-default}`: a variable with its default, as docker compose reads it.
_WITH_DEFAULT = re.compile(r"^\$\{([A-Z0-9_]+):-([^}]+)\}$")
BUILT_ON_PYTHON = ["s3", "mage", "dashboard", "api"]


def _variable_and_default(text: str) -> tuple[str, str]:
    match = _WITH_DEFAULT.match(text)
    assert match, f"{text!r} is not ${{VARIABLE:-default}}"
    return match.group(1), match.group(2)


@pytest.mark.parametrize(
    ("service", "variable"), [("localstack", "LOCALSTACK_IMAGE"), ("postgres", "POSTGRES_IMAGE")]
)
def test_upstream_images_are_variables_pinned_by_default(compose: dict, service: str, variable: str):
    """A laptop pulls the pinned upstream image; a machine without Docker Hub names a stand-in."""
    name, default = _variable_and_default(compose["services"][service]["image"])
    assert name == variable
    assert default == read_env_file(ENV_EXAMPLE_FILE)[variable]
    image, _, tag = default.rpartition(":")
    assert image and tag and tag != "latest", default


@pytest.mark.parametrize("service", BUILT_ON_PYTHON)
def test_built_images_take_their_base_from_python_image(compose: dict, service: str):
    """Compose passes PYTHON_IMAGE to each build, whose Dockerfile declares the same default."""
    build = compose["services"][service]["build"]
    name, default = _variable_and_default(build["args"]["PYTHON_IMAGE"])
    assert name == "PYTHON_IMAGE" and default == read_env_file(ENV_EXAMPLE_FILE)["PYTHON_IMAGE"]
    dockerfile = (REPO_ROOT / build["context"] / build["dockerfile"]).read_text()
    assert f"ARG PYTHON_IMAGE={default}\nFROM ${{PYTHON_IMAGE}}\n" in dockerfile
    assert dockerfile.count("FROM ") == 1


def test_mage_is_built_from_the_repository(compose: dict):
    build = compose["services"]["mage"]["build"]
    assert (REPO_ROOT / build["context"] / build["dockerfile"]).exists()
    assert compose["services"]["mage"]["depends_on"]["localstack"]["condition"] == "service_healthy"


# What Mage's container reads beyond the project's settings: the guard's list of addresses.
CONTAINER_ONLY = {"MAGE_GUARD_HOSTS"}


def test_variables_used_are_documented_in_env_example(compose: dict):
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text()))
    mage_overrides = set(compose["services"]["mage"]["environment"]) - CONTAINER_ONLY
    documented = set(read_env_file(ENV_EXAMPLE_FILE))
    assert used <= documented, used - documented
    assert mage_overrides <= documented, mage_overrides - documented


def test_dockerfile_uses_the_lock_and_fetches_jars():
    dockerfile = Path(REPO_ROOT / "mage_project" / "Dockerfile").read_text()
    assert "requirements/main.lock" in dockerfile
    assert "python -m lakehouse.jars" in dockerfile
    assert "openjdk-17" in dockerfile


def test_the_lake_is_on_disk_in_a_named_volume(compose: dict):
    """Bronze and silver outlive `docker compose down`/`up`, as they outlive the native stack's restarts."""
    s3 = compose["services"]["s3"]
    (volume,) = s3["volumes"]
    name, _, target = volume.partition(":")
    assert name in compose["volumes"] and target == "/data"
    mage = compose["services"]["mage"]
    assert mage["environment"]["AWS_ENDPOINT_URL_S3"] == "http://s3:4580"
    assert mage["depends_on"]["s3"]["condition"] == "service_healthy"


def test_localstack_serves_the_same_services_as_natively_and_no_s3(compose: dict):
    services = compose["services"]["localstack"]["environment"]["SERVICES"]
    assert services == LOCALSTACK_SERVICES
    assert "s3" not in services.split(",")


def test_the_s3_image_uses_the_pinned_jar_and_its_hash(compose: dict):
    build = compose["services"]["s3"]["build"]
    dockerfile = (REPO_ROOT / build["context"] / build["dockerfile"]).read_text()
    assert f"ARG S3PROXY_VERSION={S3PROXY.version}" in dockerfile
    assert f"ARG S3PROXY_SHA256={S3PROXY.sha256}" in dockerfile
    assert "sha256sum -c" in dockerfile
    assert compose["services"]["s3"]["image"].endswith(f":{S3PROXY.version}")


def test_the_dashboard_is_built_from_its_hashed_lock_and_holds_no_database_password(compose: dict):
    dashboard = compose["services"]["dashboard"]
    dockerfile = (REPO_ROOT / dashboard["build"]["context"] / dashboard["build"]["dockerfile"]).read_text()
    assert "--require-hashes -r requirements/dashboard.lock" in dockerfile
    assert "--browser.gatherUsageStats" in dockerfile
    assert "POSTGRES_PASSWORD" not in dashboard["environment"]
    assert dashboard["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_api_is_built_from_its_hashed_lock_and_holds_no_database_password(compose: dict):
    api = compose["services"]["api"]
    dockerfile = (REPO_ROOT / api["build"]["context"] / api["build"]["dockerfile"]).read_text()
    assert "--require-hashes -r requirements/api.lock" in dockerfile
    assert api["environment"]["POSTGRES_PASSWORD"] == ""
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"


def _interpolated(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{([A-Z0-9_]+)\}", lambda match: variables[match.group(1)], value)


@pytest.fixture(scope="module")
def mage_guard_environment(compose: dict) -> dict[str, str]:
    """The Mage container's environment as the guard sees it, published on a port other than 6789."""
    dockerfile = (REPO_ROOT / "mage_project" / "Dockerfile").read_text()
    image_env = dict(re.findall(r"^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$", dockerfile, re.MULTILINE))
    compose_env = {
        name: _interpolated(
            str(value), {"MAGE_PORT": "7189", "MAGE_OWNER_EMAIL": "o@x", "MAGE_OWNER_PASSWORD": "pw"}
        )
        for name, value in compose["services"]["mage"]["environment"].items()
    }
    return {**image_env, **compose_env}


def test_the_mage_container_runs_the_guard_with_a_login(mage_guard_environment: dict[str, str]):
    """As natively: no open API, no CORS grant, foreign Host or Origin refused (issue 17)."""
    dockerfile = (REPO_ROOT / "mage_project" / "Dockerfile").read_text()
    command = dockerfile[dockerfile.rindex("CMD ") :]
    assert '"-m", "ops.stack.mage_guard", "start", "mage_project"' in command
    assert mage_guard_environment["REQUIRE_USER_AUTHENTICATION"] == "1"
    login = owner_login(mage_guard_environment)
    assert login["DEFAULT_OWNER_EMAIL"] == "o@x" and login["DEFAULT_OWNER_PASSWORD"] == "pw"
    assert mage_guard_environment["POSTGRES_OWNER_PASSWORD"] == ""


def test_the_guard_in_the_container_accepts_the_published_port_and_the_service_name(
    compose: dict, mage_guard_environment: dict[str, str]
):
    hosts = guarded_hosts(mage_guard_environment)
    assert refusal("127.0.0.1:7189", "http://127.0.0.1:7189", hosts) is None  # the browser on the host
    assert refusal("mage:6789", None, hosts) is None  # the dashboard's container
    assert refusal("0.0.0.0:6789", None, hosts)  # the bind address is no name a client uses
    assert refusal("127.0.0.1:6789", None, hosts)  # the container port is not published as such
    assert refusal("evil.example:7189", None, hosts)
    dashboard = compose["services"]["dashboard"]["environment"]
    assert refusal(f"{dashboard['MAGE_HOST']}:{dashboard['MAGE_PORT']}", None, hosts) is None
    healthcheck = compose["services"]["mage"]["healthcheck"]["test"]
    host_header = healthcheck[healthcheck.index("-H") + 1].removeprefix("Host: ")
    assert refusal(host_header, None, hosts) is None


def test_the_guard_refuses_to_start_without_an_address_or_with_a_malformed_one():
    with pytest.raises(ValueError, match="MAGE_GUARD_HOSTS"):
        guarded_hosts({"MAGE_HOST": "0.0.0.0", "MAGE_PORT": "6789"})
    with pytest.raises(ValueError, match="not host:port"):
        guarded_hosts({"MAGE_HOST": "0.0.0.0", "MAGE_PORT": "6789", "MAGE_GUARD_HOSTS": "mage"})
    native = guarded_hosts({"MAGE_HOST": "127.0.0.1", "MAGE_PORT": "6789"})
    assert native == {"127.0.0.1:6789", "localhost:6789"}


@pytest.mark.parametrize("service", ["s3", "localstack", "postgres", "mage", "dashboard", "api"])
def test_every_service_runs_under_an_init_that_passes_sigterm_on(compose: dict, service: str):
    """A program running as PID 1 ignores SIGTERM; `down` would wait 10 s for each such container."""
    assert compose["services"][service]["init"] is True


def test_the_compose_check_publishes_every_port_away_from_the_native_stacks(compose: dict):
    """`make test-compose` runs beside the shared native stack: none of its ports may be a default."""
    from tests.support.compose_check import PORTS

    published = {
        re.search(r"\$\{([A-Z0-9_]+)\}", str(port)).group(1)
        for s in compose["services"].values()
        for port in s["ports"]
    }
    assert published == set(PORTS)
    defaults = {
        int(value) for name, value in read_env_file(ENV_EXAMPLE_FILE).items() if name.endswith("_PORT")
    }
    assert not defaults & set(PORTS.values())
