"""`make test-compose`: docker-compose.yml run for real, with Podman where there is no Docker engine.

In order: the stand-in images (ops/stack/standins.py, cached), `make up STACK_MODE=docker` through
podman-compose on ports of its own (+400: it never meets the shared native stack), every compose
healthcheck run until healthy, `make status`, the end-to-end test and the Mage UI test against the
containers (the existing tests, selected, with the settings pointing at the compose stack), every
published port on 127.0.0.1 only, a bucket object and a table row surviving `make down` /
`make up` (named volumes), and finally `make down`, after which none of the project's containers
is left. The test project's volumes are removed at the end so each run starts empty.

Each step prints its duration; any failure stops the run with exit 1 after `make down`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from lakehouse.aws import client
from lakehouse.config import REPO_ROOT, read_settings
from lakehouse.db import connect
from ops.stack.standins import PODMAN_COMPOSE, build_all, image_environment, podman_environment

PROJECT = "stock-lakehouse-compose-test"
PORTS = {
    "LOCALSTACK_PORT": 5066,
    "S3_PORT": 5080,
    "POSTGRES_PORT": 5833,
    "MAGE_PORT": 7189,
    "DASHBOARD_PORT": 8531,
    "API_PORT": 8030,
}
SERVICES = ("s3", "localstack", "postgres", "mage", "dashboard", "api")
# The existing tests that make the smoke: producer -> three pipelines -> gold -> an alert on SQS,
# and the Mage UI listing pipelines and running one, in the Mage container.
SMOKE_TESTS = ("tests/e2e/test_pipeline_end_to_end.py", "tests/e2e/test_mage_ui.py")
HEALTHCHECK_TIMEOUT = 300.0


class CheckFailed(AssertionError):
    """A step of the compose check failed; the message says which and what was seen."""


def environment(run_dir: Path) -> dict[str, str]:
    """The process environment for `make` and pytest: the compose stack on its own ports."""
    return {
        **os.environ,
        **podman_environment(),
        **image_environment(),
        **{name: str(port) for name, port in PORTS.items()},
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{PORTS['LOCALSTACK_PORT']}",
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{PORTS['S3_PORT']}",
        "STACK_MODE": "docker",
        "COMPOSE_COMMAND": f"{PODMAN_COMPOSE} --project-name {PROJECT}",
        "STACK_RUN_DIR": str(run_dir),
        "MAGE_DATA_DIR": str(run_dir / "mage_data"),
    }


def step(name: str, action: Callable[[], object]) -> object:
    began = time.monotonic()
    print(f"\n==> {name}", flush=True)
    result = action()
    print(f"<== {name}: {time.monotonic() - began:.0f} s", flush=True)
    return result


def run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, check=False)
    if result.returncode != 0:
        raise CheckFailed(f"{what} failed (exit {result.returncode}): {' '.join(command)}")


def podman(arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *arguments], env=env, capture_output=True, text=True, check=False)


def containers(env: dict[str, str]) -> list[dict]:
    listed = podman(
        ["ps", "--all", "--filter", f"label=io.podman.compose.project={PROJECT}", "--format", "json"], env
    )
    return json.loads(listed.stdout or "[]")


def container_of(service: str, env: dict[str, str]) -> str:
    for container in containers(env):
        if container.get("Labels", {}).get("io.podman.compose.service") == service:
            return container["Names"][0]
    raise CheckFailed(f"no container for service {service} in project {PROJECT}")


def wait_for_healthchecks(env: dict[str, str]) -> None:
    """Compose's own healthcheck of every service, run until it passes (Podman 4.3 has no timer here)."""
    for service in SERVICES:
        name = container_of(service, env)
        deadline = time.monotonic() + HEALTHCHECK_TIMEOUT
        while (result := podman(["healthcheck", "run", name], env)).returncode != 0:
            if time.monotonic() > deadline:
                detail = (result.stdout + result.stderr).strip()
                raise CheckFailed(
                    f"{service}: healthcheck not passing after {HEALTHCHECK_TIMEOUT:.0f} s: {detail}"
                )
            time.sleep(3)
        print(f"  {service:<11} healthcheck passes ({name})")


def check_ports_on_loopback(env: dict[str, str]) -> None:
    """Every published port of every container is bound to 127.0.0.1, and all six are there."""
    published = {}
    for container in containers(env):
        for port in container.get("Ports") or []:
            published[port["host_port"]] = port.get("host_ip", "")
    wrong = {port: address for port, address in published.items() if address != "127.0.0.1"}
    if wrong:
        raise CheckFailed(f"ports published beyond loopback: {wrong}")
    missing = set(PORTS.values()) - set(published)
    if missing:
        raise CheckFailed(f"ports not published: {sorted(missing)} (published: {published})")
    # And as the kernel sees it: Podman's conmon holds each published port open on the host.
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
    for port in PORTS.values():
        addresses = {
            fields[3].rpartition(":")[0]
            for fields in map(str.split, listening.splitlines())
            if fields[3].rpartition(":")[2] == str(port)
        }
        if addresses != {"127.0.0.1"}:
            raise CheckFailed(f"port {port} listens on {sorted(addresses) or 'nothing'}, not 127.0.0.1 alone")
    print(f"  published on 127.0.0.1 only: {sorted(published)} (podman ps and ss -ltn)")


def write_markers(env: dict[str, str], marker: str) -> None:
    """An object in the lake's S3 volume and a row in PostgreSQL's, to find after a restart."""
    settings = read_settings(environ=env)
    s3 = client("s3", settings)
    s3.create_bucket(Bucket=marker)
    s3.put_object(Bucket=marker, Key="marker.txt", Body=marker.encode())
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(f'create table public."{marker}" (marker text)')
        cursor.execute(f'insert into public."{marker}" values (%s)', (marker,))


def read_markers(env: dict[str, str], marker: str) -> None:
    settings = read_settings(environ=env)
    body = client("s3", settings).get_object(Bucket=marker, Key="marker.txt")["Body"].read().decode()
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(f'select marker from public."{marker}"')
        rows = cursor.fetchall()
    if body != marker or rows != [(marker,)]:
        raise CheckFailed(f"data lost across make down / make up: object {body!r}, rows {rows}")
    print(f"  bucket object and table row {marker} survived make down / make up")


def check_no_containers_left(env: dict[str, str]) -> None:
    left = [container["Names"][0] for container in containers(env)]
    if left:
        raise CheckFailed(f"make down left containers: {left}")
    print(f"  no container of {PROJECT} left")


def remove_volumes(env: dict[str, str]) -> None:
    listed = podman(
        ["volume", "ls", "--quiet", "--filter", f"label=io.podman.compose.project={PROJECT}"], env
    )
    names = listed.stdout.split()
    if names:
        podman(["volume", "rm", *names], env)
    print(f"  removed {len(names)} test volume(s)")


def main() -> int:
    run_dir = REPO_ROOT / ".cache" / "compose-test" / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    env = environment(run_dir)
    marker = f"compose-survives-{uuid.uuid4().hex[:8]}"
    began = time.monotonic()
    up = ["make", "--no-print-directory", "up"]
    down = ["make", "--no-print-directory", "down"]
    try:
        step("stand-in images (cached after the first run)", lambda: print(build_all()))
        step("make up STACK_MODE=docker (podman-compose)", lambda: run(up, env, "make up"))
        step("every compose healthcheck", lambda: wait_for_healthchecks(env))
        step("make status", lambda: run(["make", "--no-print-directory", "status"], env, "make status"))
        step("published ports", lambda: check_ports_on_loopback(env))
        pytest = [
            str(REPO_ROOT / ".venv" / "bin" / "python"),
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            *SMOKE_TESTS,
        ]
        step(
            "end-to-end smoke and Mage UI test against the containers",
            lambda: run(pytest, env, "the smoke tests"),
        )
        step("data written before a restart", lambda: write_markers(env, marker))
        step("make down / make up", lambda: (run(down, env, "make down"), run(up, env, "make up")))
        step("data after the restart", lambda: read_markers(env, marker))
    except CheckFailed as error:
        print(f"\nerror: {error}", file=sys.stderr)
        subprocess.run(down, cwd=REPO_ROOT, env=env, check=False)
        return 1
    step("make down", lambda: run(down, env, "make down"))
    step("containers removed", lambda: check_no_containers_left(env))
    remove_volumes(env)
    print(f"\ncompose check passed in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
