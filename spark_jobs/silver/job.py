"""The bronze-to-silver job: new bronze objects in, validated Delta tables and quarantine out.

One run: find bronze objects not processed yet (bronze_log.py), read them, parse and validate
every line (parse.py, validate.py), check the new rows with Great Expectations (quality.py),
MERGE them into the silver tables and the quarantine (tables.py), log the objects, and return
a summary. Reading and writing happen here; everything between is a pure transform.

Reconciliation: every bronze line read is either one accepted event or one quarantined row.
The job counts the lines it split from the objects and the lines it classified; if they
differ, a transform lost or duplicated a line, and the run fails before writing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Settings, SilverSettings
from lakehouse.locks import own_stage
from lakehouse.resources import ensure_bucket
from spark_jobs.session import s3a_uri
from spark_jobs.silver import bronze_log, dead_letter, held, quality
from spark_jobs.silver.frames import materialise, release
from spark_jobs.silver.parse import parse_bronze_lines, parse_events, split_lines
from spark_jobs.silver.tables import (
    EVENT_DATE,
    EVENT_TABLES,
    INGEST_DATE,
    PRODUCTS,
    PROMOTIONS,
    QUARANTINE,
    QUARANTINE_KEYS,
    SILVER_STAGE,
    STORES,
    ensure_tables,
    merge_rows,
    quarantine_rows,
    table_path,
    table_rows,
)
from spark_jobs.silver.validate import (
    apply_value_rules,
    apply_verdicts,
    batch_references,
    changed_lines,
    check_columns,
    check_references,
    keep_settled,
    mark_duplicate_promotions,
    mark_duplicates,
)

log = logging.getLogger(__name__)

# Up to this many changed verdicts are broadcast to the lines (no shuffle of the wide rows); a
# replay that makes every line a duplicate has more, and joins them by shuffling both sides.
BROADCAST_VERDICTS_MAX = 250_000


class ReconciliationError(RuntimeError):
    """Bronze lines read differ from lines accepted plus lines quarantined: a bug, nothing written."""


@dataclass(frozen=True)
class SilverRunSummary:
    """What a bronze-to-silver run did: logged, returned to Mage, checked by tests and benches.

    The batch fields (run_id onwards) stay empty when the run found no new bronze object.
    """

    stream: str
    bronze_bucket: str
    silver_bucket: str
    objects: int
    objects_waiting: int
    bronze_lines: int
    accepted_events: int
    quarantined: int
    reconciliation_holds: bool
    seconds: float
    run_id: str | None = None
    silver_rows: dict[str, int] = field(default_factory=dict)
    inserted_rows: dict[str, int] = field(default_factory=dict)
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    dead_letters: dict[str, str] = field(default_factory=dict)  # bronze key -> why it is unreadable
    # Objects of a batch that failed a critical expectation, held back (held.py), and why.
    held_objects: list[str] = field(default_factory=list)
    held_reason: str | None = None

    def as_dict(self) -> dict:
        """Plain data for Mage, which passes block outputs between processes."""
        return asdict(self)


@dataclass(frozen=True)
class BatchResult:
    """What `process_objects` did with one batch of bronze objects."""

    run_id: str
    objects: int
    bronze_lines: int
    accepted_events: int
    quarantined: int
    reconciliation_holds: bool
    silver_rows: dict[str, int]
    inserted_rows: dict[str, int]
    quarantine_by_reason: dict[str, int]
    quality: dict
    phase_seconds: dict[str, float]
    dead_letters: dict[str, str] = field(default_factory=dict)
    held_objects: list[str] = field(default_factory=list)
    held_reason: str | None = None


def read_bronze_objects(spark: SparkSession, bronze_root: str, keys: Sequence[str]) -> DataFrame:
    """[bronze_key, text]: each object whole (Spark un-gzips by extension), so lines keep their number.

    An object that does not decompress gives no row instead of failing the read (dead_letter.py
    finds it and sets it aside).
    """
    root = bronze_root.rstrip("/")
    paths = [f"{root}/{key}" for key in keys]
    frame = spark.read.option("ignoreCorruptFiles", "true").text(paths, wholetext=True)
    spark_root = root if "://" in root or root.startswith("file:") else f"file:{root}"
    key = F.expr(f"substr(_metadata.file_path, {len(spark_root) + 2})")
    return frame.select(key.alias("bronze_key"), F.col("value").alias("text"))


def _existing_events(spark: SparkSession, silver_root: str, event_dates: Sequence[object]) -> DataFrame:
    """(event_id, bronze_key, bronze_line) of silver events on the batch's event dates."""
    frames = []
    for spec in EVENT_TABLES:
        table = spark.read.format("delta").load(table_path(silver_root, spec.name))
        if spec.partition_by == EVENT_DATE:
            table = table.where(F.col(EVENT_DATE).isin(list(event_dates)))
        frames.append(table.select("event_id", "bronze_key", "bronze_line"))
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return union.dropDuplicates(["event_id"])


def _settled_quarantine(
    spark: SparkSession, silver_root: str, keys: Sequence[str], ingest_dates
) -> DataFrame:
    table = spark.read.format("delta").load(table_path(silver_root, QUARANTINE))
    dates = [value for value in ingest_dates if value is not None]
    in_partitions = F.col(INGEST_DATE).isin(dates) | F.col(INGEST_DATE).isNull()
    return table.where(in_partitions & F.col("bronze_key").isin(list(keys))).select(
        *QUARANTINE_KEYS, "reason", "detail"
    )


def _announced_promotions(spark: SparkSession, silver_root: str) -> DataFrame:
    """(promotion_id, event_id) of every promotion in silver: a few rows a week, read whole."""
    table = spark.read.format("delta").load(table_path(silver_root, PROMOTIONS.name))
    return table.select("promotion_id", "event_id").distinct()


def _known(spark: SparkSession, silver_root: str, batch: DataFrame, column: str, spec_name: str) -> DataFrame:
    stored = spark.read.format("delta").load(table_path(silver_root, spec_name)).select(column)
    return stored.unionByName(batch.select(column))


@dataclass(frozen=True)
class Batch:
    """One run's classified lines (materialised), their count, and what the MERGEs prune with."""

    classified: DataFrame
    lines: int
    event_dates: list
    ingest_dates: list
    keys: frozenset[str]  # objects that gave at least one line


def classify(spark: SparkSession, silver_root: str, objects: DataFrame, options: SilverSettings) -> Batch:
    """Bronze objects -> every line classified (reason null = accepted), against silver as it is."""
    parsed = apply_value_rules(
        parse_events(parse_bronze_lines(split_lines(objects))), options.future_tolerance_seconds
    )
    parsed = materialise(parsed)
    facts = parsed.agg(
        F.count(F.lit(1)).alias("lines"),
        F.collect_set(F.to_date("event_time")).alias("dates"),
        F.collect_set(INGEST_DATE).alias("ingest_dates"),
        F.collect_set("bronze_key").alias("keys"),
    ).first()
    batch_stores, batch_skus = batch_references(parsed)
    known_stores = _known(spark, silver_root, batch_stores, "store_id", STORES.name)
    known_skus = _known(spark, silver_root, batch_skus, "sku", PRODUCTS.name)
    existing = _existing_events(spark, silver_root, facts["dates"])
    settled = _settled_quarantine(spark, silver_root, facts["keys"], facts["ingest_dates"])
    announced = _announced_promotions(spark, silver_root)
    referenced = check_references(check_columns(parsed), known_stores, known_skus)
    checked = keep_settled(
        mark_duplicate_promotions(mark_duplicates(referenced, existing), announced), settled
    )
    changes = materialise(changed_lines(checked))
    small = changes.count() <= BROADCAST_VERDICTS_MAX
    classified = materialise(apply_verdicts(parsed, F.broadcast(changes) if small else changes))
    release(changes)
    release(parsed)
    # collect_set drops nulls; a line whose key and bronze time name no date is in the null partition.
    ingest_dates = [*facts["ingest_dates"], None]
    return Batch(classified, facts["lines"], list(facts["dates"]), ingest_dates, frozenset(facts["keys"]))


def _reconcile(classified: DataFrame, lines: int) -> tuple[int, int]:
    """(accepted, quarantined) lines, once they are proven to add up to the bronze lines read."""
    counts = classified.agg(
        F.count(F.lit(1)).alias("classified"),
        F.count(F.when(F.col("reason").isNull(), 1)).alias("accepted"),
        F.count(F.when(F.col("reason").isNotNull(), 1)).alias("quarantined"),
    ).first()
    holds = counts["classified"] == lines and counts["accepted"] + counts["quarantined"] == lines
    if not holds:
        raise ReconciliationError(
            f"bronze lines {lines} != accepted {counts['accepted']} + quarantined {counts['quarantined']} "
            f"(classified {counts['classified']}): a transform in spark_jobs/silver lost or duplicated "
            "lines; nothing was written. Run the unit tests (pytest tests/unit -k silver) to find it."
        )
    return counts["accepted"], counts["quarantined"]


def _object_entries(classified: DataFrame, sizes: Mapping[str, int], stream: str, run_id: str, now: Column):
    spark = classified.sparkSession
    size_frame = spark.createDataFrame(list(sizes.items()), "bronze_key string, size long")
    counts = classified.groupBy("bronze_key").agg(
        F.count(F.lit(1)).alias("lines"),
        F.count(F.when(F.col("reason").isNull(), 1)).alias("accepted"),
        F.count(F.when(F.col("reason").isNotNull(), 1)).alias("quarantined"),
    )
    # An object with no lines at all (empty) is still logged, with zero counts.
    return size_frame.join(counts, "bronze_key", "left").select(
        "bronze_key",
        F.lit(stream).alias("stream"),
        "size",
        *[F.coalesce(F.col(name), F.lit(0)).alias(name) for name in ("lines", "accepted", "quarantined")],
        F.lit(run_id).alias("run_id"),
        now.alias("processed_at"),
    )


class _Stopwatch:
    """Seconds per phase of a run, for the summary (where a slow run spends its time)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.phases[phase] = round(now - self._last, 2)
        self._last = now


def _quality_gate(
    spark: SparkSession,
    silver_root: str,
    rows: Mapping[str, DataFrame],
    counts: Mapping[str, int],
    suites: Mapping[str, Sequence[quality.Check]],
    options: SilverSettings,
    lines: int,
    run_id: str,
    started: datetime,
) -> quality.QualityReport:
    checks = {name: list(found) for name, found in suites.items()}
    checks.setdefault(QUARANTINE, []).append(
        quality.quarantine_share_check(lines, options.max_quarantine_share)
    )
    report = quality.run_suites({name: rows[name] for name in rows if counts[name]}, checks, run_id, counts)
    quality.record_results(spark, silver_root, report, started)
    return report


def _write_tables(
    spark: SparkSession,
    silver_root: str,
    rows: Mapping[str, DataFrame],
    counts: Mapping[str, int],
    batch: Batch,
) -> dict[str, int]:
    """MERGE each table's new rows, each restricted to the partitions the batch can touch."""
    inserted: dict[str, int] = {}
    targets = [(spec.name, spec.keys, spec.partition_by, batch.event_dates) for spec in EVENT_TABLES]
    targets.append((QUARANTINE, QUARANTINE_KEYS, INGEST_DATE, batch.ingest_dates))
    for name, keys, partition_by, partitions in targets:
        if counts[name]:
            path = table_path(silver_root, name)
            inserted[name] = merge_rows(spark, path, rows[name], keys, partition_by, partitions)
        else:
            inserted[name] = 0
    return inserted


def process_objects(
    spark: SparkSession,
    bronze_root: str,
    silver_root: str,
    objects: Sequence[bronze_log.BronzeObject],
    stream: str,
    options: SilverSettings,
    suites: Mapping[str, Sequence[quality.Check]] | None = None,
    run_id: str | None = None,
    settings: Settings | None = None,
) -> BatchResult:
    """Classify, gate, write and log the given bronze objects; the tables must exist.

    With `settings`, a batch that fails a critical expectation is held (held.py): nothing is
    written, its objects are recorded as held, and the result names them. Without, the
    failure raises QualityGateError.
    """
    run_id = run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    started = datetime.now(UTC)
    now = F.lit(started).cast("timestamp")
    watch = _Stopwatch()
    frames = read_bronze_objects(spark, bronze_root, [item.key for item in objects])
    batch = classify(spark, silver_root, frames, options)
    classified, lines = batch.classified, batch.lines
    silent = [(item.key, item.size) for item in objects if item.key not in batch.keys]
    letters = dead_letter.examine(spark, bronze_root, silent) if silent else []
    watch.lap("read_and_classify")
    rows: dict[str, DataFrame] = {}
    try:
        accepted, quarantined = _reconcile(classified, lines)
        for spec in EVENT_TABLES:
            rows[spec.name] = table_rows(classified, spec, now).persist(StorageLevel.MEMORY_AND_DISK)
        rows[QUARANTINE] = quarantine_rows(classified, now).persist(StorageLevel.MEMORY_AND_DISK)
        counts = {name: frame.count() for name, frame in rows.items()}
        watch.lap("table_rows")
        report = _quality_gate(
            spark, silver_root, rows, counts, suites or quality.SUITES, options, lines, run_id, started
        )
        watch.lap("quality")
        if report.critical_failures and settings is not None:
            reason = "; ".join(report.summary()["critical_failed"])
            held.hold(settings, stream, [(item.key, item.size) for item in objects], run_id, reason)
            log.warning(
                "bronze_to_silver: held %d bronze object(s) of run %s: %s", len(objects), run_id, reason
            )
            return BatchResult(
                run_id=run_id,
                objects=len(objects),
                bronze_lines=lines,
                accepted_events=accepted,
                quarantined=quarantined,
                reconciliation_holds=True,
                silver_rows={},
                inserted_rows={},
                quarantine_by_reason={},
                quality=report.summary(),
                phase_seconds=watch.phases,
                held_objects=[item.key for item in objects],
                held_reason=reason,
            )
        quality.enforce(report, table_path(silver_root, quality.QUALITY_RESULTS))
        inserted = _write_tables(spark, silver_root, rows, counts, batch)
        if letters:
            dead_letter.record_dead_letters(spark, silver_root, letters, stream, run_id, started)
        sizes = {item.key: item.size for item in objects}
        # Dead-lettered objects are logged too (zero lines), so no later run takes them again.
        entries = _object_entries(classified, sizes, stream, run_id, now)
        bronze_log.record_processed(spark, silver_root, entries)
        if settings is not None:
            held.settle(settings, stream, [item.key for item in objects], run_id)
        watch.lap("write")
        by_reason = {
            row["reason"]: row["count"] for row in rows[QUARANTINE].groupBy("reason").count().collect()
        }
    finally:
        release(classified)
        for frame in rows.values():
            frame.unpersist()
    return BatchResult(
        run_id=run_id,
        objects=len(objects),
        bronze_lines=lines,
        accepted_events=accepted,
        quarantined=quarantined,
        reconciliation_holds=True,
        silver_rows={name: counts[name] for name in counts if name != QUARANTINE},
        inserted_rows=inserted,
        quarantine_by_reason=by_reason,
        quality=report.summary(),
        phase_seconds=watch.phases,
        dead_letters={item.bronze_key: f"{item.reason}: {item.detail}" for item in letters},
    )


def _pick_objects(
    spark: SparkSession,
    settings: Settings,
    silver_root: str,
    bronze_bucket: str,
    stream: str,
    options: SilverSettings,
) -> tuple[list[bronze_log.BronzeObject], int]:
    """The bronze log's new objects without the held ones, with those to replay (held.py)."""
    listed, _ = bronze_log.new_objects(
        spark, settings, silver_root, bronze_bucket, stream, options.lookback_hours
    )
    chosen, waiting = held.split_pending(
        [(item.key, item.size) for item in listed],
        held.open_objects(settings, stream),
        options.max_objects_per_run or None,
    )
    return [bronze_log.BronzeObject(key, size) for key, size in chosen], waiting


def run_bronze_to_silver(
    spark: SparkSession,
    settings: Settings,
    stream: str | None = None,
    bronze_bucket: str | None = None,
    silver_bucket: str | None = None,
    *,
    options: SilverSettings | None = None,
    suites: Mapping[str, Sequence[quality.Check]] | None = None,
    prepare: bool = True,
) -> SilverRunSummary:
    """Process every bronze object of `stream` not processed yet; return the run's summary.

    Arguments left None come from Settings (.env; `options` from `settings.silver`). The summary
    has the bronze lines read, the events accepted, the lines quarantined (by reason), the rows
    per silver table, whether the reconciliation holds, and the quality results; it is also logged.
    `prepare=False` skips creating the bucket and tables, for a caller that runs again after a run
    that did (pos_live).
    """
    began = time.monotonic()
    stream = stream or settings.kinesis_stream
    bronze_bucket = bronze_bucket or settings.bronze_bucket
    silver_bucket = silver_bucket or settings.silver_bucket
    options = options or settings.silver
    silver_root = s3a_uri(silver_bucket)
    with own_stage(settings, SILVER_STAGE, silver_bucket):  # fences every write (lakehouse/locks.py)
        if prepare:
            ensure_bucket(settings, silver_bucket)
            ensure_tables(spark, silver_root)
            bronze_log.ensure_log(spark, silver_root)
        objects, waiting = _pick_objects(spark, settings, silver_root, bronze_bucket, stream, options)
        if objects:
            batch = asdict(
                process_objects(
                    spark,
                    s3a_uri(bronze_bucket),
                    silver_root,
                    objects,
                    stream,
                    options,
                    suites,
                    settings=settings,
                )
            )
        else:
            batch = {
                "objects": 0,
                "bronze_lines": 0,
                "accepted_events": 0,
                "quarantined": 0,
                "reconciliation_holds": True,
            }
    summary = SilverRunSummary(
        stream=stream,
        bronze_bucket=bronze_bucket,
        silver_bucket=silver_bucket,
        objects_waiting=waiting,
        seconds=round(time.monotonic() - began, 2),
        **batch,
    )
    log.info("bronze_to_silver: %s", summary)
    return summary
