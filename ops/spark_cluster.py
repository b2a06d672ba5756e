"""A Spark standalone cluster on this machine (one master, one worker) from pyspark's own launcher.

`SPARK_MASTER=spark://host:7077` is how the jobs move to a cluster. Running them against a real
standalone master, with executors in JVMs of their own, is what shows that the executors get the
jars and the S3 settings from the session factory (spark_jobs/session.py) and nothing else: an
executor shares no classpath or configuration with the driver but what Spark ships to it.

Everything binds 127.0.0.1: the master's and the worker's RPC ports by `--host`, their web UIs
(which otherwise bind every interface) and the executors they launch by SPARK_LOCAL_IP in their
environment. Each process gets a session of its own, so `stop` ends it with its executors, and
asks the kernel to kill it if the process that started it dies first (a killed test run leaves
no JVM behind).

`python -m ops.spark_cluster [--port 7077] [--cores 1] [--memory 1g]` runs one in the foreground
until Ctrl-C; set `SPARK_MASTER` to the URL it prints.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

HOST = "127.0.0.1"
SPARK_CLASS = Path(pyspark.__file__).resolve().parent / "bin" / "spark-class"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the process that started it dies (Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class StandaloneCluster:
    """One master and one worker on loopback; `with StandaloneCluster() as cluster:` starts and stops them."""

    master_port: int = field(default_factory=free_port)
    master_ui_port: int = field(default_factory=free_port)
    worker_ui_port: int = field(default_factory=free_port)
    cores: int = 1
    memory: str = "1g"
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="spark-cluster-")))
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"spark://{HOST}:{self.master_port}"

    @property
    def master_ui(self) -> str:
        return f"http://{HOST}:{self.master_ui_port}"

    def _launch(self, name: str, arguments: list[str]) -> subprocess.Popen:
        environment = {**os.environ, "SPARK_LOCAL_IP": HOST, "SPARK_HOME": str(SPARK_CLASS.parent.parent)}
        with open(self.work_dir / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                [str(SPARK_CLASS), *arguments],
                cwd=self.work_dir,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.processes.append(process)
        return process

    def status(self) -> dict:
        """The master's own account (`/json`): workers, cores, running and completed applications."""
        with urllib.request.urlopen(f"{self.master_ui}/json/", timeout=5) as answer:
            return json.load(answer)

    def _wait(self, what: str, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError, ValueError, urllib.error.URLError):
                if ready(self.status()):
                    return
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"the Spark {what} is not up: a process exited with {process.returncode}; "
                        f"see the logs in {self.work_dir}"
                    )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Spark {what} is not up after {timeout:.0f} s; see the logs in {self.work_dir}"
                )
            time.sleep(0.5)

    def start(self, timeout: float = 120) -> StandaloneCluster:
        """Start the master, then the worker, and return once the master counts the worker alive."""
        self._launch(
            "master",
            [
                MASTER_CLASS,
                "--host",
                HOST,
                "--port",
                str(self.master_port),
                "--webui-port",
                str(self.master_ui_port),
            ],
        )
        self._wait("master", lambda status: status.get("status") == "ALIVE", timeout)
        self._launch(
            "worker",
            [
                WORKER_CLASS,
                self.url,
                "--host",
                HOST,
                "--cores",
                str(self.cores),
                "--memory",
                self.memory,
                "--webui-port",
                str(self.worker_ui_port),
                "--work-dir",
                str(self.work_dir / "work"),
            ],
        )
        self._wait("worker", lambda status: status.get("aliveworkers", 0) >= 1, timeout)
        return self

    def stop(self, grace_seconds: float = 15) -> None:
        """SIGTERM to each process's group (the worker's takes its executors), then SIGKILL what is left."""
        for process in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace_seconds)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.processes.clear()

    def __enter__(self) -> StandaloneCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.spark_cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7077, help="the master's port (default 7077)")
    parser.add_argument("--ui-port", type=int, default=8080, help="the master's web UI (default 8080)")
    parser.add_argument("--cores", type=int, default=1, help="cores the worker offers (default 1)")
    parser.add_argument("--memory", default="1g", help="memory the worker offers (default 1g)")
    arguments = parser.parse_args(argv)
    cluster = StandaloneCluster(
        master_port=arguments.port,
        master_ui_port=arguments.ui_port,
        cores=arguments.cores,
        memory=arguments.memory,
    )
    with cluster:
        print(f"SPARK_MASTER={cluster.url}  (web UI {cluster.master_ui}, logs in {cluster.work_dir})")
        print("Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            while all(process.poll() is None for process in cluster.processes):
                time.sleep(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
