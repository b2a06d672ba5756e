"""A real read API (api/, uvicorn under .venv-api) on a free loopback port, for tests and the bench.

It runs the command `make up` runs, with the environment `make up` gives it (no loader or owner
password), pointed at a gold schema of the caller's choosing.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakehouse.config import REPO_ROOT, Settings
from ops.stack.components import API_VENV, api_command, api_environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def api_server(settings: Settings, schema: str, log_file: Path, **environment: str) -> Iterator[str]:
    """The API's base URL while it serves `schema`; stopped (SIGTERM) at the end of the block."""
    python = API_VENV / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"{python} is missing: run `make setup` (it installs .venv-api)")
    port = free_port()
    env = {
        **api_environment(settings),
        "GOLD_SCHEMA": schema,
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "PYTHONPATH": str(REPO_ROOT),
        **environment,
    }
    url = f"http://127.0.0.1:{port}"
    with open(log_file, "ab") as log:
        server = subprocess.Popen(api_command(), env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the API did not start; see {log_file}") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
