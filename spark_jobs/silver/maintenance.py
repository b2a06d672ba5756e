"""Silver upkeep: compact small files (Delta OPTIMIZE) and remove unreferenced ones (VACUUM).

A run every minute writes a few small files per touched partition. Auto compaction (see
spark_jobs/session.py) already rewrites a partition once it holds 20 of them; OPTIMIZE here
rewrites every partition into large files, so reads (gold, the duplicate lookups of the next
runs) open few files. VACUUM then deletes files no table version within the retention still
uses (compaction only marks the small ones removed), which keeps S3 from growing with every
rewrite. The retention (7 days by default, Delta's own safety floor) bounds how far
back time travel works.

Both commit to the tables, so they run under silver's stage like bronze_to_silver (the S3 log
store assumes one writer per table at a time): each OPTIMIZE and each VACUUM proves the lease
first (`tables.fence`). The Mage pipeline `silver_maintenance` takes the stage for the run and
skips when bronze_to_silver or pos_live holds it; it has no schedule.
"""

from __future__ import annotations

from collections.abc import Sequence

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from spark_jobs.silver.bronze_log import BRONZE_LOG
from spark_jobs.silver.quality import QUALITY_RESULTS
from spark_jobs.silver.tables import EVENT_TABLES, QUARANTINE, fence, table_path

DEFAULT_RETENTION_HOURS = 168
ALL_TABLES: tuple[str, ...] = (*[spec.name for spec in EVENT_TABLES], QUARANTINE, BRONZE_LOG, QUALITY_RESULTS)


def compact_and_vacuum(
    spark: SparkSession,
    silver_root: str,
    tables: Sequence[str] = ALL_TABLES,
    retention_hours: float = DEFAULT_RETENTION_HOURS,
) -> dict[str, dict]:
    """OPTIMIZE then VACUUM each existing table; per table, files compacted and removed.

    The caller holds silver's stage on the bucket (lakehouse.locks.stage_lock / run_exclusively).
    """
    summary: dict[str, dict] = {}
    for name in tables:
        path = table_path(silver_root, name)
        if not DeltaTable.isDeltaTable(spark, path):
            continue
        table = DeltaTable.forPath(spark, path)
        fence(spark, path, "OPTIMIZE of")
        metrics = table.optimize().executeCompaction().select("metrics").first()["metrics"]
        fence(spark, path, "VACUUM of")
        table.vacuum(retention_hours)
        summary[name] = {
            "files_added": metrics["numFilesAdded"],
            "files_removed": metrics["numFilesRemoved"],
            "files_now": _file_count(spark, path),
        }
    return summary


def _file_count(spark: SparkSession, path: str) -> int:
    return int(DeltaTable.forPath(spark, path).detail().select("numFiles").first()["numFiles"])
