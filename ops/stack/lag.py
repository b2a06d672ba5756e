"""Pipeline lag for `make status`: Kinesis backlog, each pipeline's last success, newest data per layer.

Every probe is cheap (one GetRecords of one record per shard, one listing, a few SQL
aggregates), and a probe that cannot answer says why instead of failing the whole report.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.db import connect

PIPELINES = ("kinesis_to_bronze", "bronze_to_silver", "silver_to_gold")


def kinesis_backlog(settings: Settings) -> str:
    """How far behind the stream's tip the bronze checkpoints are, per shard (MillisBehindLatest)."""
    kinesis = client("kinesis", settings)
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute("select to_regclass('ingestion.kinesis_checkpoints') is not null")
        exists = cursor.fetchone()[0]
        checkpoints = {}
        if exists:
            cursor.execute(
                "select shard_id, sequence_number from ingestion.kinesis_checkpoints where stream = %s",
                (settings.kinesis_stream,),
            )
            checkpoints = dict(cursor.fetchall())
    parts = []
    for shard in kinesis.list_shards(StreamName=settings.kinesis_stream)["Shards"]:
        if "EndingSequenceNumber" in shard.get("SequenceNumberRange", {}):
            continue  # closed after a reshard
        sequence = checkpoints.get(shard["ShardId"])
        arguments = {"StreamName": settings.kinesis_stream, "ShardId": shard["ShardId"]}
        if sequence:
            arguments |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": sequence}
        else:
            arguments["ShardIteratorType"] = "TRIM_HORIZON"
        iterator = kinesis.get_shard_iterator(**arguments)["ShardIterator"]
        response = kinesis.get_records(ShardIterator=iterator, Limit=1)
        behind = response.get("MillisBehindLatest", 0) / 1000
        waiting = "records waiting" if response["Records"] else "caught up"
        parts.append(f"{shard['ShardId'][-3:]}: {waiting}, {behind:.0f} s behind")
    return "; ".join(parts) or "no open shards"


def last_successful_runs(settings: Settings) -> str:
    parts = []
    for pipeline in PIPELINES:
        # Mage lists the newest runs first; a failure streak longer than this shows as 'not recently'.
        url = f"{settings.mage_url}/api/pipeline_runs?pipeline_uuid={pipeline}&_limit=100"
        with urllib.request.urlopen(url, timeout=5) as response:
            runs = json.loads(response.read()).get("pipeline_runs", [])
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
