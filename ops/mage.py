"""Mage for tests and make targets: pipelines headless (`mage run`), started and stopped in the background.

Calls to the server's API (which asks for a login) go through `lakehouse.mage_api.MageApi`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lakehouse.config import REPO_ROOT, Settings, load_settings
from ops.stack.components import MAIN_VENV, mage_environment

MAGE_PROJECT = REPO_ROOT / "mage_project"


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
    environment: Mapping[str, str] | None = None,
) -> PipelineRun:
    """`mage run mage_project <pipeline>`; with run_tests, a failing block test fails the run.

    `environment` adds variables for this run only (the fault suite's FAULT_AT, for example).
    """
    settings = settings or load_settings()
    command = pipeline_command(pipeline, variables)
    if run_tests:
        command.append("--test")
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env={**mage_environment(settings), **(environment or {})},
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
