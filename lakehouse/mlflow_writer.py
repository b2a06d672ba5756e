"""Log run records (lakehouse.model_tracking.RunRecord as JSON files) into an MLflow store.

Runs in MLflow's own virtualenv (.venv-mlflow), started by `model_tracking`:
`python -m lakehouse.mlflow_writer STORE_DIR RECORD.json ...`; prints the run ids as a JSON list.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from lakehouse.model_tracking import artifact_root, tracking_uri


def experiment_id(client: MlflowClient, name: str, artifacts: str) -> str:
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name, artifact_location=artifacts)


def log(record: dict, client: MlflowClient, artifacts: str) -> str:
    experiment = experiment_id(client, record["experiment"], f"{artifacts}/{record['experiment']}")
    with mlflow.start_run(experiment_id=experiment, run_name=record["run_name"], tags=record["tags"]) as run:
        if record["params"]:
            mlflow.log_params(record["params"])
        if record["metrics"]:
            mlflow.log_metrics(record["metrics"])
        if record["artifacts"]:
            with tempfile.TemporaryDirectory() as folder:
                for name, text in record["artifacts"].items():
                    (Path(folder) / name).write_text(text)
                mlflow.log_artifacts(folder)
        return run.info.run_id


def main(argv: list[str]) -> int:
    directory = Path(argv[0])
    artifacts = artifact_root(directory)
    mlflow.set_tracking_uri(tracking_uri(directory))
    client = MlflowClient()
    ids = [log(json.loads(Path(path).read_text()), client, artifacts) for path in argv[1:]]
    print(json.dumps(ids))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
