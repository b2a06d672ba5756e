"""Tracked models (issue 19): a run's parameters, metrics and artifacts, handed to MLflow.

MLflow lives in its own virtualenv, `.venv-mlflow` (requirements/mlflow.lock): pip's resolver
finds no mlflow 3.x beside mage-ai 0.9.80's pins in the main one. So this module, which needs
only the standard library, writes a run as a JSON record and runs `lakehouse.mlflow_writer` in
that environment to log it. The store is `<STACK_RUN_DIR>/mlflow`: a SQLite database for runs
and a directory for artifacts, what `make mlflow` serves on 127.0.0.1:MLFLOW_PORT.

Gold loads run every minute, so they do not start MLflow: each load leaves its record in the
store's spool directory (`spool_record`, a file write), and `sync_spool` logs what waits there
(`make mlflow` does before serving, and so does every alerts bench). A record is removed only
once its run is logged, so nothing is lost when MLflow is missing or fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lakehouse.config import REPO_ROOT, Settings

TRACKING_VENV = REPO_ROOT / ".venv-mlflow"
SPOOL = "spool"


class TrackingError(RuntimeError):
    """A run could not be logged; the message says what to do."""


@dataclass(frozen=True)
class RunRecord:
    """One MLflow run: where it goes, what it was given, what it measured, what it produced."""

    experiment: str
    run_name: str
    params: dict[str, str | int | float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)  # file name -> its text


def store_dir(settings: Settings) -> Path:
    return settings.stack_run_dir / "mlflow"


def tracking_uri(directory: Path) -> str:
    """The SQLite tracking store under `directory` (MLflow 3 deprecates the plain file store)."""
    return f"sqlite:///{directory / 'mlflow.db'}"


def artifact_root(directory: Path) -> str:
    return (directory / "artifacts").as_uri()


def tracking_python() -> Path:
    python = TRACKING_VENV / "bin" / "python"
    if not python.exists():
        raise TrackingError(f"MLflow's environment {TRACKING_VENV} is missing: run `make setup`")
    return python


def log_run(record: RunRecord, directory: Path, timeout: float = 600) -> str:
    """Log `record` to the store in `directory` with MLflow; returns the MLflow run id."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=directory, delete=False) as handle:
        json.dump(asdict(record), handle)
        path = Path(handle.name)
    try:
        return _write([path], directory, timeout)[0]
    finally:
        path.unlink(missing_ok=True)


def _write(paths: list[Path], directory: Path, timeout: float) -> list[str]:
    """Run the writer in MLflow's environment over record files; their run ids, in order."""
    command = [str(tracking_python()), "-m", "lakehouse.mlflow_writer", str(directory), *map(str, paths)]
    environment = os.environ | {"PYTHONPATH": str(REPO_ROOT)}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=environment
        )
    except subprocess.TimeoutExpired:
        raise TrackingError(f"MLflow took over {timeout:.0f} s to log {len(paths)} run(s)") from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise TrackingError(f"MLflow could not log {len(paths)} run(s) into {directory}: {detail[0]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def spool_record(record: RunRecord, directory: Path) -> Path:
    """Leave `record` for `sync_spool`: written whole under a temporary name, then renamed."""
    spool = directory / SPOOL
    spool.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{time.monotonic_ns()}.json"
    partial = spool / f".{name}"
    partial.write_text(json.dumps(asdict(record)))
    return partial.replace(spool / name)


def sync_spool(directory: Path, timeout: float = 600) -> int:
    """Log every spooled record (oldest first) and remove those logged; how many were."""
    spool = directory / SPOOL
    paths = sorted(spool.glob("[!.]*.json")) if spool.exists() else []
    if not paths:
        return 0
    _write(paths, directory, timeout)
    for path in paths:
        path.unlink()
    return len(paths)


def serve(settings: Settings) -> None:
    """Replace this process with MLflow's UI over the store, on 127.0.0.1 only (make mlflow)."""
    directory = store_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    mlflow = TRACKING_VENV / "bin" / "mlflow"
    tracking_python()  # the same clear error when the environment is missing
    command = [
        str(mlflow),
        "server",
        "--backend-store-uri",
        tracking_uri(directory),
        "--default-artifact-root",
        artifact_root(directory),
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.tracking.mlflow_port),
    ]
    print(
        f"MLflow UI on http://127.0.0.1:{settings.tracking.mlflow_port} (store {directory}); Ctrl-C stops it"
    )
    os.execv(command[0], command)


def main(argv: list[str] | None = None) -> int:
    """`python -m lakehouse.model_tracking sync|serve`: log the spooled gold fits; then, for
    `serve` (make mlflow), open MLflow's UI over the store."""
    from lakehouse.config import load_settings

    arguments = sys.argv[1:] if argv is None else argv
    if arguments not in (["sync"], ["serve"]):
        print("usage: python -m lakehouse.model_tracking sync|serve", file=sys.stderr)
        return 2
    settings = load_settings()
    directory = store_dir(settings)
    try:
        count = sync_spool(directory)
    except TrackingError as error:
        print(f"tracking: {error}", file=sys.stderr)
        return 1
    print(f"tracking: {count} spooled gold fit(s) logged to {tracking_uri(directory)}")
    if arguments == ["serve"]:
        serve(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
