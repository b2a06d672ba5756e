"""Pipeline lag for `make status`: Kinesis backlog, each pipeline's last success, newest data per layer.

Every probe is cheap (one GetRecords of one record per shard, one listing, a few SQL
aggregates), and a probe that cannot answer says why instead of failing the whole report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ingestion.checkpoints import StreamIdentity, identity_problem
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.mage_api import MageApi
from spark_jobs.silver import held

PIPELINES = ("kinesis_to_bronze", "bronze_to_silver", "silver_to_gold")


def _checkpoint_rows(settings: Settings, stream: str) -> list[tuple]:
    """(shard_id, sequence_number, identity or None) of each checkpoint of `stream`; [] before any."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select count(*) from information_schema.columns where table_schema = 'ingestion' "
            "and table_name = 'kinesis_checkpoints' and column_name in ('stream_arn', 'stream_created_at')"
        )
        identity_columns = cursor.fetchone()[0] == 2
        if identity_columns:
            cursor.execute(
                "select shard_id, sequence_number, stream_arn, stream_created_at "
                "from ingestion.kinesis_checkpoints where stream = %s",
                (stream,),
            )
        else:
            cursor.execute("select to_regclass('ingestion.kinesis_checkpoints') is not null")
            if not cursor.fetchone()[0]:
                return []
            cursor.execute(
                "select shard_id, sequence_number, null, null from ingestion.kinesis_checkpoints "
                "where stream = %s",
                (stream,),
            )
        return [
            (shard, sequence, StreamIdentity(arn, created) if arn else None)
            for shard, sequence, arn, created in cursor.fetchall()
        ]


def retention_warning(
    shard_id: str, oldest_unread: datetime | None, retention_hours: int, now: datetime
) -> str | None:
    """A warning when a shard's checkpoint is older than half the stream's retention, else None.

    The checkpoint's age is that of the oldest record it has not read: past the retention
    Kinesis drops it unread, and bronze never sees it.
    """
    if oldest_unread is None:
        return None
    behind = now - oldest_unread
    if behind <= timedelta(hours=retention_hours) / 2:
        return None
    return (
        f"WARNING {shard_id}: checkpoint {behind.total_seconds() / 3600:.1f} h old, and Kinesis keeps "
        f"records {retention_hours} h: what is not drained by then is lost. Drain now "
        "(`.venv/bin/python -m ops.mage kinesis_to_bronze`) and see why the schedule does not (`make logs`)"
    )


def kinesis_backlog(settings: Settings, now: datetime | None = None) -> str:
    """How far behind the stream's tip the bronze checkpoints are, per shard (MillisBehindLatest).

    Says so instead when the checkpoints belong to an earlier stream of the same name, and warns
    when a shard's checkpoint is older than half the stream's retention.
    """
    now = now or datetime.now(UTC)
    stream = settings.kinesis_stream
    kinesis = client("kinesis", settings)
    summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    current = StreamIdentity(summary["StreamARN"], summary["StreamCreationTimestamp"])
    rows = _checkpoint_rows(settings, stream)
    problem = identity_problem(stream, (identity for _, _, identity in rows), current)
    if problem:
        return f"STREAM RECREATED: {problem}"
    checkpoints = {shard: sequence for shard, sequence, _ in rows}
    parts, warnings = [], []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        if "EndingSequenceNumber" in shard.get("SequenceNumberRange", {}):
            continue  # closed after a reshard
        sequence = checkpoints.get(shard["ShardId"])
        arguments = {"StreamName": stream, "ShardId": shard["ShardId"]}
        if sequence:
            arguments |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": sequence}
        else:
            arguments["ShardIteratorType"] = "TRIM_HORIZON"
        iterator = kinesis.get_shard_iterator(**arguments)["ShardIterator"]
        response = kinesis.get_records(ShardIterator=iterator, Limit=1)
        behind = response.get("MillisBehindLatest", 0) / 1000
        records = response["Records"]
        waiting = "records waiting" if records else "caught up"
        parts.append(f"{shard['ShardId'][-3:]}: {waiting}, {behind:.0f} s behind")
        oldest = records[0]["ApproximateArrivalTimestamp"] if records else None
        warning = retention_warning(shard["ShardId"], oldest, summary["RetentionPeriodHours"], now)
        if warning:
            warnings.append(warning)
    return "; ".join([*warnings, *parts]) or "no open shards"


def last_successful_runs(settings: Settings) -> str:
    api = MageApi(settings, timeout=5)
    parts = []
    for pipeline in PIPELINES:
        # Mage lists the newest runs first; a failure streak longer than this shows as 'not recently'.
        runs = api.pipeline_runs(pipeline, limit=100)
        completed = [
            run["completed_at"] for run in runs if run["status"] == "completed" and run["completed_at"]
        ]
        parts.append(f"{pipeline} {max(completed)[:19] if completed else 'not recently'}")
    return "; ".join(parts)


def newest_bronze_object(settings: Settings) -> str:
    s3 = client("s3", settings)
    newest = None
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.bronze_bucket, Prefix=f"raw/{settings.kinesis_stream}/"
    ):
        for item in page.get("Contents", []):
            newest = max(newest or item["LastModified"], item["LastModified"])
    return f"written {newest:%Y-%m-%d %H:%M:%S}" if newest else "no objects yet"


def gold_last_load(settings: Settings) -> tuple[datetime, datetime] | None:
    """(as_of, finished_at) of gold's newest load: the data time it holds and when; None before any."""
    schema = settings.gold.schema
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute("select to_regclass(%s) is not null", (f'"{schema}".load_runs',))
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(f'select max(as_of), max(finished_at) from "{schema}".load_runs')
        as_of, finished = cursor.fetchone()
    return None if as_of is None else (as_of, finished)


def newest_in_gold(settings: Settings) -> str:
    last_load = gold_last_load(settings)
    if last_load is None:
        return "not loaded yet"
    as_of, finished = last_load
    age = (datetime.now(UTC) - finished).total_seconds()
    return f"newest event {as_of:%Y-%m-%d %H:%M:%S}, loaded {age:.0f} s ago"


PROBES: dict[str, Callable[[Settings], str]] = {
    "kinesis backlog": kinesis_backlog,
    "last success": last_successful_runs,
    "bronze": newest_bronze_object,
    "silver held": held.status_line,  # objects a failed quality gate holds back
    "gold": newest_in_gold,
}


def lag_report(settings: Settings) -> list[tuple[str, str]]:
    report = []
    for name, probe in PROBES.items():
        try:
            report.append((name, probe(settings)))
        except Exception as error:  # one probe down must not hide the others
            report.append((name, f"unavailable: {type(error).__name__}: {str(error).splitlines()[0][:120]}"))
    return report
