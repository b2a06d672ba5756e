"""Running Mage pipelines headless (`mage run`) with the project's settings, for tests and make targets."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from lakehouse.config import REPO_ROOT, Settings, load_settings
from lakehouse.stack.components import MAIN_VENV, mage_environment

MAGE_PROJECT = REPO_ROOT / "mage_project"


@dataclass(frozen=True)
class PipelineRun:
    pipeline: str
    returncode: int
    output: str

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0


def run_pipeline(
    pipeline: str,
    variables: dict[str, object] | None = None,
    settings: Settings | None = None,
    run_tests: bool = True,
    timeout: float = 1800,
) -> PipelineRun:
    """`mage run mage_project <pipeline>`; with run_tests, a failing block test fails the run."""
    settings = settings or load_settings()
    command = [str(MAIN_VENV / "bin" / "mage"), "run", str(MAGE_PROJECT), pipeline]
    if variables:
        command += ["--runtime-vars", json.dumps(variables)]
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
