"""A lake and a gold schema of a test's own, for tests that run the pipelines through Mage."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ingestion.checkpoints import CheckpointStore
from lakehouse.config import Settings
from lakehouse.db import connect
from spark_jobs.gold.migrate import migrate


@contextmanager
def pipeline_lake(own_lake: Callable[[str], Settings], prefix: str) -> Iterator[Settings]:
    """Stream, buckets, topic, queue and a migrated gold schema named `<prefix><random>`.

    GOLD_SCHEMA is set in this process's environment for the block, because Mage's blocks, run
    by `ops.mage.run_pipeline`, take the schema from it; the previous value comes back after.
    """
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    settings = own_lake(name)
    schema = f"gold_{name}"
    previous_schema = os.environ.get("GOLD_SCHEMA")
    os.environ["GOLD_SCHEMA"] = schema
    migrate(settings, schema, log=lambda message: None)  # as the owner: the pipelines only check
    try:
        yield settings
    finally:
        if previous_schema is None:
            os.environ.pop("GOLD_SCHEMA", None)
        else:
            os.environ["GOLD_SCHEMA"] = previous_schema
        with CheckpointStore(settings, name) as store:
            store.reset()
        with connect(settings, owner=True) as connection, connection.cursor() as cursor:
            cursor.execute(f'drop schema if exists "{schema}" cascade')
