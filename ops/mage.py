"""Mage for tests and make targets: pipelines headless (`mage run`), and Mage's API with a login.

The server asks for a login (REQUIRE_USER_AUTHENTICATION=1): `MageApi` signs in as the owner
with MAGE_OWNER_PASSWORD from .env and sends the session's OAuth token with every call.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lakehouse.config import REPO_ROOT, Settings, load_settings
from ops.stack.components import MAIN_VENV, mage_environment

MAGE_PROJECT = REPO_ROOT / "mage_project"
# The OAuth client id of Mage's own web frontend: the same in every copy of Mage and sent by the
# UI with each call, so it names the client and grants nothing; the session token authenticates.
MAGE_FRONTEND_API_KEY = "zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2"
# The API trigger `MageApi.trigger` creates once per pipeline and then reuses.
API_TRIGGER_NAME = "ops_api"


class MageApiError(RuntimeError):
    """Mage refused or failed a call; Mage reports most errors inside a 200, read from the body."""


class MageApi:
    """Mage's REST API as the owner: `get`, `post`, the runs of a pipeline, and a run started now."""

    def __init__(self, settings: Settings, timeout: float = 15) -> None:
        self.settings = settings
        self.timeout = timeout
        self._token: str | None = None

    def _call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
        headers = {"X-API-KEY": MAGE_FRONTEND_API_KEY, "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.settings.mage_url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise MageApiError(f"{method} {path}: HTTP {error.code} {error.read()[:300]!r}") from None
        if "error" in answer:
            raise MageApiError(f"{method} {path}: {answer['error'].get('message') or answer['error']}")
        return answer

    def requires_login(self) -> bool:
        """What the server says (a Mage started before logins were on answers False)."""
        status = self._call("GET", "/api/status")["statuses"][0]
        return bool(status.get("require_user_authentication"))

    def token(self) -> str | None:
        """The owner's session token: a login with MAGE_OWNER_EMAIL and MAGE_OWNER_PASSWORD."""
        if self._token is None:
            if not self.requires_login():
                return None
            if not self.settings.mage_owner_password:
                raise MageApiError("MAGE_OWNER_PASSWORD is empty: run `make setup` (it writes it to .env)")
            credentials = {
                "email": self.settings.mage_owner_email,
                "password": self.settings.mage_owner_password,
            }
            session = self._call("POST", "/api/sessions", {"session": credentials})["session"]
            # The session is a JWT for the UI's cookie; the Authorization header takes the token in it.
            payload = session["token"].split(".")[1]
            self._token = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["token"]
        return self._token

    def get(self, path: str, **parameters: object) -> dict:
        query = f"?{urllib.parse.urlencode(parameters, doseq=True)}" if parameters else ""
        return self._call("GET", path + query, token=self.token())

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, body, token=self.token())

    def pipeline_runs(self, pipeline: str, limit: int = 20) -> list[dict]:
        """The newest runs of `pipeline` first."""
        answer = self.get(
            "/api/pipeline_runs", pipeline_uuid=pipeline, _limit=limit, **{"_order_by[]": "-id"}
        )
        return answer["pipeline_runs"]

    def trigger(self, pipeline: str, variables: dict[str, object] | None = None) -> dict:
        """Start a run of `pipeline` now through its API trigger (created on first use); the run."""
        path = f"/api/pipelines/{pipeline}/pipeline_schedules"
        schedules = [s for s in self.get(path)["pipeline_schedules"] if s["name"] == API_TRIGGER_NAME]
        if not schedules:
            schedule = {"name": API_TRIGGER_NAME, "schedule_type": "api", "status": "active"}
            schedules = [self.post(path, {"pipeline_schedule": schedule})["pipeline_schedule"]]
        run = {"pipeline_run": {"variables": variables or {}}}
        return self.post(f"/api/pipeline_schedules/{schedules[0]['id']}/pipeline_runs", run)["pipeline_run"]


@dataclass(frozen=True)
class PipelineRun:
    pipeline: str
    returncode: int
    output: str

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0


def pipeline_command(pipeline: str, variables: dict[str, object] | None = None) -> list[str]:
    """`mage run mage_project <pipeline>` with the project's Mage."""
    command = [str(MAIN_VENV / "bin" / "mage"), "run", str(MAGE_PROJECT), pipeline]
    if variables:
        command += ["--runtime-vars", json.dumps(variables)]
    return command


def start_pipeline(pipeline: str, settings: Settings, log_path: Path) -> subprocess.Popen:
    """Start a streaming pipeline (it runs until stopped) in the background, output to `log_path`.

    It gets a process group of its own, which `stop_pipeline` stops with its Spark JVM.
    """
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            pipeline_command(pipeline),
            cwd=REPO_ROOT,
            env=mage_environment(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_log_line(log_path: Path, running: subprocess.Popen, marker: str, timeout: float) -> None:
    """Until `marker` is in the log of what `start_pipeline` started; an error if it exits first."""
    deadline = time.monotonic() + timeout
    while marker not in log_path.read_text(errors="replace"):
        if running.poll() is not None:
            raise RuntimeError(f"the pipeline exited with {running.returncode}; see {log_path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {marker!r} in {log_path} after {timeout:.0f} s; see that log")
        time.sleep(2)


def stop_pipeline(running: subprocess.Popen, grace_seconds: float = 30) -> None:
    """Stop what `start_pipeline` started: Ctrl-C to its group, then SIGKILL to what is left.

    `mage run` of a streaming pipeline ignores SIGTERM (measured: still running 30 s later),
    and the Spark JVM is a child that must not outlive it.
    """
    group = running.pid
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(group, signal.SIGINT)
        running.wait(grace_seconds)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    running.wait()


def run_pipeline(
    pipeline: str,
    variables: dict[str, object] | None = None,
    settings: Settings | None = None,
    run_tests: bool = True,
    timeout: float = 1800,
) -> PipelineRun:
    """`mage run mage_project <pipeline>`; with run_tests, a failing block test fails the run."""
    settings = settings or load_settings()
    command = pipeline_command(pipeline, variables)
    if run_tests:
        command.append("--test")
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=mage_environment(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return PipelineRun(pipeline, result.returncode, result.stdout + result.stderr)


def main(argv: list[str] | None = None) -> int:
    """`python -m ops.mage <pipeline>`: run it in the foreground with the project's settings."""
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print("usage: python -m ops.mage <pipeline>  (e.g. pos_live)", file=sys.stderr)
        return 2
    command = pipeline_command(arguments[0])
    os.chdir(REPO_ROOT)
    os.execve(command[0], command, mage_environment(load_settings()))  # replaces this process


if __name__ == "__main__":
    raise SystemExit(main())
