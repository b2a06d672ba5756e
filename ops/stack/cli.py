"""`make up`, `make down`, `make status` and `make logs`: the stack, with or without Docker.

With a Docker engine the stack is docker-compose.yml plus Terraform; without one (these
machines) it is host processes managed by ops.stack.components. The chosen mode is
written to STACK_RUN_DIR/mode so `down` stops what `up` started.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import psycopg2

from lakehouse.config import REPO_ROOT, Settings, load_settings, merged_environment
from ops.stack import process
from ops.stack.components import Component, StackError, components
from ops.stack.database import bootstrap
from ops.stack.private_files import secure_run_dir

START_TIMEOUTS = {
    "s3": 60.0,
    "localstack": 90.0,
    "postgres": 60.0,
    "mage": 180.0,
    "dashboard": 60.0,
    "api": 30.0,
}


def docker_engine_answer() -> str | None:
    """None when a Docker engine answers, else why not (for the user)."""
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except FileNotFoundError:
        return "the docker command is not installed"
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 10 s"
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        return f"`docker info` failed: {lines[-1] if lines else 'no output'}"
    return None


def choose_mode(settings: Settings) -> tuple[str, str]:
    """('docker' | 'native', reason)."""
    if settings.stack_mode in {"docker", "native"}:
        return settings.stack_mode, f"STACK_MODE={settings.stack_mode} in .env"
    if settings.stack_mode != "auto":
        raise StackError(f"STACK_MODE={settings.stack_mode!r}: use auto, docker or native")
    why_not = docker_engine_answer()
    if why_not is None:
        return "docker", "a Docker engine answers"
    return "native", f"no Docker engine ({why_not})"


def wait_healthy(component: Component, timeout: float, process_of_ours: bool = True) -> None:
    """Until the component answers on its port; a host process of ours must not exit meanwhile."""
    deadline = time.monotonic() + timeout
    health = component.health()
    while not health.ok:
        if process_of_ours and not component.is_ours():
            raise StackError(f"{component.name} exited during start-up; see {component.log_file}")
        if time.monotonic() > deadline:
            raise StackError(
                f"{component.name} not healthy after {timeout:.0f} s ({health.detail}); "
                f"see {component.log_file}"
            )
        time.sleep(1.0)
        health = component.health()


def start_native(settings: Settings, names: Iterable[str] | None = None, log=print) -> list[Component]:
    """Start the named components (all by default) unless already healthy; return those started."""
    started = []
    wanted = set(names) if names else None
    secure_run_dir(settings.stack_run_dir)  # umask 077 from here on, for the services too
    for component in components(settings):
        if wanted is not None and component.name not in wanted:
            continue
        if component.health().ok:
            log(f"  {component.name:<11} already running")
            continue
        log(f"  {component.name:<11} starting (log: {_relative(component.log_file)})")
        began = time.monotonic()
        component.start()
        started.append(component)
        wait_healthy(component, START_TIMEOUTS[component.name])
        log(f"  {component.name:<11} healthy in {time.monotonic() - began:.1f} s")
    return started


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _mode_file(settings: Settings) -> Path:
    return settings.stack_run_dir / "mode"


def compose(settings: Settings, *arguments: str) -> None:
    """COMPOSE_COMMAND (`docker compose` or `podman-compose`) on docker-compose.yml, with the
    images the settings name, so `.env` and the environment choose them as they choose the rest."""
    command = [*shlex.split(settings.containers.compose_command), *arguments]
    owner, owner_password = settings.postgres_owner
    # Compose reads `.env` alone; an older one lacks variables .env.example has since gained.
    environment = {
        **merged_environment(),
        **settings.containers.image_environment(),
        "POSTGRES_OWNER_USER": owner,
        "POSTGRES_OWNER_PASSWORD": owner_password,
    }
    try:
        subprocess.run(command, cwd=REPO_ROOT, env=environment, check=True)
    except FileNotFoundError:
        raise StackError(f"COMPOSE_COMMAND={command[0]!r} is not installed: install it or fix .env") from None


# The components the cloud resources live in, started before the rest.
INFRASTRUCTURE = ("s3", "localstack", "postgres")


def up(settings: Settings) -> int:
    mode, reason = choose_mode(settings)
    print(f"stack mode: {mode} ({reason})")
    secure_run_dir(settings.stack_run_dir)
    _mode_file(settings).write_text(mode + "\n")
    # The resources come before Mage: its every-minute schedules start with it, and a job
    # that ran before Terraform would create a bucket Terraform then fails to create.
    if mode == "docker":
        compose(settings, "up", "--detach", "--build", "--wait", *INFRASTRUCTURE)
        # PostgreSQL's own check logs in as the loader, whom the bootstrap creates.
        wait_published(settings, ("s3", "localstack"))
        bootstrap_when_ready(settings, START_TIMEOUTS["postgres"])
        create_resources(settings)
        compose(settings, "up", "--detach", "--build", "--wait")
        wait_published(settings)
    else:
        start_native(settings, INFRASTRUCTURE)
        bootstrap(settings)  # the loader role and pending migrations, on a running server too
        create_resources(settings)
        start_native(settings)
    print_urls(settings)
    return 0


def wait_published(settings: Settings, names: Iterable[str] | None = None) -> None:
    """Each container answers on its published port, as the host sees it.

    `--wait` does this with Docker; podman-compose ignores it before Podman 4.6, whose healthchecks
    need systemd timers, so the stack checks from outside with the native health checks.
    """
    wanted = set(names) if names else None
    for component in components(settings):
        if wanted is None or component.name in wanted:
            wait_healthy(component, START_TIMEOUTS[component.name], process_of_ours=False)
            print(f"  {component.name:<11} healthy ({component.health().detail})")


def bootstrap_when_ready(settings: Settings, timeout: float) -> None:
    """The bootstrap, once the PostgreSQL container accepts the owner (it starts with initdb)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            bootstrap(settings)
            return
        except psycopg2.OperationalError as error:
            if time.monotonic() > deadline:
                raise StackError(f"PostgreSQL not ready after {timeout:.0f} s: {error}") from None
            time.sleep(1.0)


def create_resources(settings: Settings) -> None:
    """Terraform whenever it can run here (ops/stack/terraform.py), else the boto3 bootstrap.

    Both create the same declared set (tests hold them to it); boto3 takes seconds, Terraform
    about two minutes on a fresh LocalStack. A Terraform that starts but fails (a provider that
    cannot be installed, a service the local S3 server lacks) falls back to boto3 too, after
    its own output has said what went wrong.
    """
    from lakehouse.resources import ensure_resources
    from ops.stack.terraform import detect

    terraform = detect()
    if terraform.usable:
        print(f"  resources   terraform apply (make tf-apply): {terraform.reason}")
        if subprocess.run(["make", "tf-apply"], cwd=REPO_ROOT, check=False).returncode == 0:
            return
        why_not = "make tf-apply failed (its output is above)"
    else:
        why_not = terraform.reason
    resources = ensure_resources(settings)
    print(f"  resources   created with boto3, not Terraform: {why_not}")
    print(
        f"  resources   stream {settings.kinesis_stream}, buckets {', '.join(resources.buckets)}, "
        f"topic {settings.alerts_topic} -> queue {settings.alerts_queue}, "
        f"{len(resources.role_arns)} IAM roles"
    )
    if not resources.bucket_controls:
        print(
            "  resources   bucket versioning, encryption and lifecycle skipped: the local S3 server "
            "has none (Terraform sets them on AWS)"
        )


def print_urls(settings: Settings) -> None:
    print("")
    print(f"  Mage UI     {settings.mage_url}   (log in as {settings.mage_owner_email})")
    print(f"  LocalStack  {settings.aws_endpoint_url or 'real AWS'}")
    print(f"  S3 (lake)   {settings.aws_endpoint_url_s3 or settings.aws_endpoint_url or 'real AWS'}")
    where = f"{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}"
    print(f"  Postgres    postgresql://{settings.postgres_user}@{where}   (make psql)")
    print(f"  Dashboard   {settings.dashboard.url}   (sign in with your own PostgreSQL login)")
    print(f"  Read API    {settings.api.url}/docs   (HTTP basic with your own PostgreSQL login)")
    print(
        "  Passwords   in .env (mode 0600): MAGE_OWNER_PASSWORD, POSTGRES_PASSWORD (the loader), "
        "POSTGRES_OWNER_PASSWORD"
    )


def down(settings: Settings) -> int:
    mode_file = _mode_file(settings)
    mode = mode_file.read_text().strip() if mode_file.exists() else "native"
    if mode == "docker":
        compose(settings, "down")
    else:
        for component in reversed(components(settings)):
            if component.stop():
                print(f"  {component.name:<11} stopped")
            else:
                print(f"  {component.name:<11} was not started by `make up`")
    mode_file.unlink(missing_ok=True)
    return 0


def status(settings: Settings) -> int:
    failing = 0
    mode_file = _mode_file(settings)
    in_containers = mode_file.exists() and mode_file.read_text().strip() == "docker"
    for component in components(settings):
        health = component.health()
        record = process.read_pid(component.pid_file)
        if in_containers:
            owner = "container of docker-compose.yml"
        else:
            owner = f"pid {record.pid}" if record else "not started by make up"
        state = "healthy" if health.ok else "DOWN"
        print(f"  {component.name:<11} {state:<8} {health.detail}  [{owner}]")
        failing += not health.ok
    if not failing:
        from ops.stack.lag import lag_report

        print("pipeline lag:")
        for name, value in lag_report(settings):
            print(f"  {name:<16} {value}")
    return 1 if failing else 0


def logs(settings: Settings, lines: int) -> int:
    for component in components(settings):
        print(f"==> {_relative(component.log_file)} <==")
        if component.log_file.exists():
            print("\n".join(component.log_file.read_text(errors="replace").splitlines()[-lines:]))
        else:
            print("(no log yet)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the stack and create the cloud resources")
    commands.add_parser("down", help="stop what `up` started")
    commands.add_parser("status", help="health of each component; exit 1 if any is down")
    logs_parser = commands.add_parser("logs", help="last lines of each component's log")
    dashboard_parser = commands.add_parser("dashboard", help="start only the dashboard (and PostgreSQL)")
    dashboard_parser.set_defaults(components=["postgres", "dashboard"])
    api_parser = commands.add_parser("api", help="start only the read API (and PostgreSQL)")
    api_parser.set_defaults(components=["postgres", "api"])
    logs_parser.add_argument("-n", "--lines", type=int, default=40)
    arguments = parser.parse_args(argv)

    settings = load_settings()
    try:
        if arguments.command == "up":
            return up(settings)
        if arguments.command == "down":
            return down(settings)
        if arguments.command == "status":
            return status(settings)
        if arguments.command == "api":
            start_native(settings, arguments.components)
            print(f"  Read API    {settings.api.url}/docs   (HTTP basic with your own PostgreSQL login)")
            return 0
        if arguments.command == "dashboard":
            start_native(settings, arguments.components)
            print(f"  Dashboard   {settings.dashboard.url}   (sign in with your own PostgreSQL login)")
            return 0
        return logs(settings, arguments.lines)
    except (StackError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
