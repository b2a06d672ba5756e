"""Bronze objects silver cannot read at all (a corrupt gzip): set aside, named, and never retried.

Spark reads a batch's objects with `ignoreCorruptFiles`, so one object that fails to decompress
no longer fails the whole read and, with it, every later run. That option alone would drop the
object silently, and it also skips an object whose read failed for a passing reason (a network
error). So every object that gave no line is looked at again, on its own: its bytes are read
raw and decompressed here. If that fails, the object goes to the dead-letter table with the
error, and the job logs it as processed (with zero lines), so it is not taken again; if it
decompresses, the object is empty (nothing lost) or the read failed for a passing reason, which
stops the run with a message instead of skipping the object.

| table              | one row per           | key        |
|--------------------|-----------------------|------------|
| _meta/dead_letter  | unreadable bronze obj | bronze_key |
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from spark_jobs.silver.tables import ensure_table, merge_rows, table_path

DEAD_LETTER = "_meta/dead_letter"
CORRUPT_OBJECT = "corrupt_object"

DEAD_LETTER_SCHEMA = StructType(
    [
        StructField("bronze_key", StringType(), False),
        StructField("stream", StringType()),
        StructField("size", LongType()),
        StructField("reason", StringType(), False),
        StructField("detail", StringType()),
        StructField("run_id", StringType()),
        StructField("dead_lettered_at", TimestampType()),
    ]
)


class UnreadObjectError(RuntimeError):
    """An object gave no line to Spark but decompresses: a read that failed for a passing reason."""


@dataclass(frozen=True)
class DeadLetter:
    bronze_key: str
    size: int
    reason: str
    detail: str


def ensure_dead_letter(spark: SparkSession, root: str) -> None:
    ensure_table(spark, table_path(root, DEAD_LETTER), DEAD_LETTER_SCHEMA, None)


def object_path(bronze_root: str, key: str) -> str:
    return f"{bronze_root.rstrip('/')}/{key}"


def gunzip_error(content: bytes) -> str | None:
    """Why `content` does not decompress as gzip, or None when it does."""
    try:
        gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as error:
        return f"{type(error).__name__}: {error}"
    return None


def examine(spark: SparkSession, bronze_root: str, objects: Iterable[tuple[str, int]]) -> list[DeadLetter]:
    """The objects among `objects` (key, size) that are not gzip; raises for one that is fine.

    Called only for the objects that gave Spark no line: normally none, an empty one, or a
    corrupt one. Each is read whole as bytes, raw (Spark's binaryFile does not decompress).
    """
    found = []
    for key, size in objects:
        row = spark.read.format("binaryFile").load(object_path(bronze_root, key)).select("content").first()
        content = bytes(row["content"]) if row is not None else b""
        error = gunzip_error(content)
        if error is not None:
            found.append(DeadLetter(key, size, CORRUPT_OBJECT, error))
        elif gzip.decompress(content).strip():
            raise UnreadObjectError(
                f"bronze object {key} decompresses but Spark read no line from it: the read failed "
                "for a passing reason (S3 unreachable?); nothing was written, run again"
            )
    return found


def record_dead_letters(
    spark: SparkSession, root: str, letters: Sequence[DeadLetter], stream: str, run_id: str, now: datetime
) -> int:
    """Add the letters (insert-only on bronze_key), creating the table at first; returns how many were new."""
    ensure_dead_letter(spark, root)
    rows = spark.createDataFrame(
        [(item.bronze_key, stream, item.size, item.reason, item.detail, run_id, now) for item in letters],
        DEAD_LETTER_SCHEMA,
    )
    return merge_rows(spark, table_path(root, DEAD_LETTER), rows, ["bronze_key"])
