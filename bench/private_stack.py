"""A second, private native stack on spare ports in a temporary folder, for benchmarks.

It neither disturbs nor depends on a stack started with `make up`: its own LocalStack,
PostgreSQL and Mage (with Mage's schedules), stopped and deleted afterwards.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from lakehouse.config import Settings, load_settings
from ops.stack import process
from ops.stack.cli import start_native
from ops.stack.components import Component, components

PORT_OFFSET = 17  # spare ports beside the configured ones


def private_settings(settings: Settings, run_dir: str) -> Settings:
    localstack_port = settings.localstack_port + PORT_OFFSET
    s3_port = settings.s3_port + PORT_OFFSET
    overrides = {
        "STACK_RUN_DIR": run_dir,
        "LOCALSTACK_PORT": str(localstack_port),
        "AWS_ENDPOINT_URL": f"http://{settings.localstack_host}:{localstack_port}",
        "S3_PORT": str(s3_port),
        "AWS_ENDPOINT_URL_S3": f"http://{settings.s3_host}:{s3_port}",
        "POSTGRES_PORT": str(settings.postgres_port + PORT_OFFSET),
        "MAGE_PORT": str(settings.mage_port + PORT_OFFSET),
        "MAGE_DATA_DIR": os.path.join(run_dir, "mage_data"),
    }
    return load_settings(environ={**os.environ, **overrides})


@dataclass
class PrivateStack:
    settings: Settings
    started: list[Component] = field(default_factory=list)
    start_seconds: dict[str, float] = field(default_factory=dict)

    def resident_bytes(self) -> dict[str, int]:
        """Resident memory of each component with all its descendants (Mage's Spark JVM too)."""
        sizes = {}
        for component in self.started:
            record = process.read_pid(component.pid_file)
            sizes[component.name] = process.tree_rss_bytes(record.pid) if record else 0
        return sizes


@contextmanager
def private_stack(settings: Settings) -> Iterator[PrivateStack]:
    """Start every component, timing each; stop them in reverse order however the block ends."""
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as run_dir:
        os.chmod(run_dir, 0o755)  # the postgres system user must reach its data folder
        stack = PrivateStack(private_settings(settings, run_dir))
        try:
            for component in components(stack.settings):
                began = time.monotonic()
                stack.started += start_native(stack.settings, [component.name], log=lambda message: None)
                stack.start_seconds[component.name] = time.monotonic() - began
            yield stack
        finally:
            for component in reversed(stack.started):
                component.stop()
