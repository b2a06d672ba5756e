"""POS journals uploaded to `landing/pos_csv/` in the bronze bucket, turned into bronze events.

`load_landed()` is one pass over what is there, oldest upload first. For each file:

1. Its SHA-256 is looked up in `ingestion.csv_files`: content loaded before (the same file
   uploaded twice, under any name) adds nothing; the upload is archived and counted as a
   duplicate.
2. A file that cannot be read (`csv_events.REJECTIONS`) moves to `landing/rejected/` with a
   `.reason.txt` beside it, and nothing from it is loaded.
3. Each row is a sale event named by (store, basket, line) (`csv_events.py`). Lines sent
   before with the same content are not sent again; new lines are; a line whose content
   changed (a corrected file) is sent too, and silver quarantines it as `duplicate_event_id`,
   naming the silver row it repeats: the first version stands, nothing counts twice, and the
   attempted correction is visible rather than dropped (see the README, "CSV stores").
4. What is sent becomes one bronze object, in the exact format of the stream's
   (`bronze_format.py`), under the stream's prefix, so silver lists it with the rest:
   `raw/<stream>/ingest_date=.../ingest_hour=.../csv/<sha256>.ndjson.gz`.
5. The upload is archived to `landing/loaded/<sha256 prefix>/<name>`.

Crash safety: the bronze key is recorded as pending before the write and the lines after it,
in one transaction, so a run that dies in between writes the same object again (silver's
MERGE on event_id adds nothing twice); archiving comes last, and a loaded file found again is a
duplicate. One run at a time holds the `csv_to_bronze` advisory lock (the Mage block takes it).

The bronze bucket notifies `CSV_LANDING_QUEUE` of uploads on AWS; `take_notifications` reads and
deletes those messages, but the listing decides what is loaded, so a lost or repeated message
changes nothing. The stack's S3 server (S3Proxy) sends none: there the every-minute schedule's
listing is the wake-up (`notifications_supported`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError
from psycopg2 import sql

from ingestion.bronze_format import BronzeEvent, encode_object, stream_prefix
from ingestion.bronze_store import put_once
from ingestion.csv_events import REJECTIONS, JournalLine, Rejected, read_journal
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.resources import LANDING_PREFIX

REJECTED_PREFIX = "landing/rejected/"
LOADED_PREFIX = "landing/loaded/"
INGESTION_SCHEMA = "ingestion"
CSV_SHARD = "csv"
STAGE = "csv_to_bronze"


@dataclass(frozen=True)
class Landed:
    key: str
    last_modified: datetime

    @property
    def name(self) -> str:
        """The key below landing/pos_csv/ (folders a store uploads into are kept)."""
        return self.key.removeprefix(LANDING_PREFIX)


@dataclass
class CsvRunSummary:
    files: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: dict[str, str] = field(default_factory=dict)
    new_lines: int = 0
    changed_lines: int = 0
    unchanged_lines: int = 0
    bronze_keys: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def landed_files(settings: Settings, bucket: str) -> list[Landed]:
    """Uploads waiting under LANDING_PREFIX, oldest first."""
    paginator = client("s3", settings, stage="ingestion").get_paginator("list_objects_v2")
    found = [
        Landed(item["Key"], item["LastModified"])
        for page in paginator.paginate(Bucket=bucket, Prefix=LANDING_PREFIX)
        for item in page.get("Contents", [])
        if not item["Key"].endswith("/")
    ]
    return sorted(found, key=lambda landed: (landed.last_modified, landed.key))


def notifications_supported(settings: Settings, bucket: str) -> bool:
    """False when the S3 server implements no bucket notifications (S3Proxy): listing is the wake-up."""
    try:
        client("s3", settings, stage="ingestion").get_bucket_notification_configuration(Bucket=bucket)
    except ClientError as error:
        return error.response["Error"]["Code"] != "NotImplemented"
    return True


def take_notifications(settings: Settings) -> int:
    """Read and delete the landing queue's waiting messages; how many there were (0 if no queue)."""
    sqs = client("sqs", settings, stage="ingestion")
    try:
        url = sqs.get_queue_url(QueueName=settings.files.landing_queue)["QueueUrl"]
    except ClientError:
        return 0
    taken = 0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return taken
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
        )
        taken += len(messages)


@dataclass(frozen=True)
class WakeUp:
    """What a csv_to_bronze run found: uploads waiting and notifications taken."""

    waiting: int
    notified: int
    notifications: bool

    def as_dict(self) -> dict:
        return {"waiting": self.waiting, "notified": self.notified, "notifications": self.notifications}


def wake_up(settings: Settings, bucket: str | None = None) -> WakeUp:
    """Take the landing queue's notifications, then list: the listing decides, a message only wakes.

    Says in one line when the S3 server sends no notifications, so the log shows why a run that
    had no message still found files.
    """
    bucket = bucket or settings.bronze_bucket
    supported = notifications_supported(settings, bucket)
    if not supported:
        print(
            f"csv: the lake's S3 server sends no bucket notifications (S3Proxy): listing {LANDING_PREFIX} "
            "every minute instead"
        )
    notified = take_notifications(settings)
    waiting = len(landed_files(settings, bucket))
    print(f"csv: {waiting} upload(s) waiting in {LANDING_PREFIX}, {notified} notification(s) taken")
    return WakeUp(waiting, notified, supported)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CsvLoader:
    """One pass over the landing prefix of `bucket` into bronze objects of `stream`."""

    def __init__(self, settings: Settings, bucket: str, stream: str, schema: str = INGESTION_SCHEMA) -> None:
        self.settings = settings
        self.bucket = bucket
        self.stream = stream
        self.schema = sql.Identifier(schema)
        self.s3 = client("s3", settings, stage="ingestion")
        self.summary = CsvRunSummary()

    def run(self) -> CsvRunSummary:
        for landed in landed_files(self.settings, self.bucket):
            self.summary.files += 1
            self.load(landed)
        return self.summary

    def load(self, landed: Landed) -> None:
        body = self.s3.get_object(Bucket=self.bucket, Key=landed.key)["Body"].read()
        sha = _digest(body)
        state, bronze_key = self._file_state(sha)
        if state == "loaded":
            print(f"csv: {landed.key} has the content of a file loaded before: nothing new, archived")
            self.summary.duplicates += 1
            self._move(landed.key, f"{LOADED_PREFIX}{sha[:16]}/{landed.name}")
            return
        try:
            lines = read_journal(body)
        except Rejected as rejected:
            self._reject(landed, rejected)
            return
        new, changed, unchanged = self._compare(lines)
        send = [line for line in lines if line.event_id in new or line.event_id in changed]
        if send:
            bronze_key = bronze_key or self._bronze_key(sha)
            self._record_pending(sha, landed, bronze_key, len(lines), new, changed, unchanged)
            self._write(bronze_key, send, landed.last_modified)
            self.summary.bronze_keys.append(bronze_key)
        else:
            bronze_key = None
        self._record_loaded(sha, landed, bronze_key, lines, new, changed, unchanged)
        self.summary.loaded += 1
        self.summary.new_lines += len(new)
        self.summary.changed_lines += len(changed)
        self.summary.unchanged_lines += len(unchanged)
        print(
            f"csv: {landed.key}: {len(lines)} rows, {len(new)} new, {len(changed)} changed "
            f"(silver keeps their first version), {len(unchanged)} already loaded "
            f"-> {bronze_key or 'nothing new for bronze'}"
        )
        self._move(landed.key, f"{LOADED_PREFIX}{sha[:16]}/{landed.name}")

    def _file_state(self, sha: str) -> tuple[str | None, str | None]:
        with connect(self.settings) as connection, connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("select state, bronze_key from {}.csv_files where sha256 = %s").format(self.schema),
                (sha,),
            )
            found = cursor.fetchone()
        return (found[0], found[1]) if found else (None, None)

    def _compare(self, lines: list[JournalLine]) -> tuple[set[str], set[str], set[str]]:
        """(new, changed, unchanged) event ids against the lines sent before.

        A line repeated within the file counts once, as the first; its repeats go along with it
        and silver keeps one.
        """
        digests = {}
        for line in lines:
            digests.setdefault(line.event_id, _digest(line.payload))
        with connect(self.settings) as connection, connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("select event_id, payload_sha256 from {}.csv_lines where event_id = any(%s)").format(
                    self.schema
                ),
                (list(digests),),
            )
            sent = dict(cursor.fetchall())
        new = {event_id for event_id in digests if event_id not in sent}
        unchanged = {event_id for event_id, digest in digests.items() if sent.get(event_id) == digest}
        return new, set(digests) - new - unchanged, unchanged

    def _bronze_key(self, sha: str) -> str:
        now = datetime.now(UTC)
        return (
            f"{stream_prefix(self.stream)}ingest_date={now:%Y-%m-%d}/ingest_hour={now:%H}/"
            f"{CSV_SHARD}/{sha}.ndjson.gz"
        )

    def _record_pending(self, sha, landed, bronze_key, rows, new, changed, unchanged) -> None:
        with connect(self.settings) as connection, connection.cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    "insert into {}.csv_files (sha256, source_key, state, bronze_key, rows, new_lines, "
                    "changed_lines, unchanged_lines) values (%s, %s, 'pending', %s, %s, %s, %s, %s) "
                    "on conflict (sha256) do nothing"
                ).format(self.schema),
                (sha, landed.key, bronze_key, rows, len(new), len(changed), len(unchanged)),
            )

    def _write(self, key: str, lines: list[JournalLine], arrived: datetime) -> None:
        events = [
            BronzeEvent(self.stream, CSV_SHARD, f"{line.row:08d}", 0, line.store_id, arrived, line.payload)
            for line in lines
        ]
        # False when a run that died before recording the file as loaded had stored it: kept.
        put_once(self.s3, self.bucket, key, encode_object(events, datetime.now(UTC)))

    def _record_loaded(self, sha, landed, bronze_key, lines, new, changed, unchanged) -> None:
        """The file as loaded and its new lines as sent, in one transaction."""
        first = {}
        for line in lines:
            if line.event_id in new:
                first.setdefault(line.event_id, line)
        with connect(self.settings) as connection, connection.cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    "insert into {}.csv_files (sha256, source_key, state, bronze_key, rows, new_lines, "
                    "changed_lines, unchanged_lines, loaded_at) "
                    "values (%s, %s, 'loaded', %s, %s, %s, %s, %s, now()) "
                    "on conflict (sha256) do update set state = 'loaded', loaded_at = now()"
                ).format(self.schema),
                (sha, landed.key, bronze_key, len(lines), len(new), len(changed), len(unchanged)),
            )
            cursor.executemany(
                sql.SQL(
                    "insert into {}.csv_lines (event_id, store_id, payload_sha256, file_sha256) "
                    "values (%s, %s, %s, %s) on conflict (event_id) do nothing"
                ).format(self.schema),
                [(line.event_id, line.store_id, _digest(line.payload), sha) for line in first.values()],
            )

    def _reject(self, landed: Landed, rejected: Rejected) -> None:
        target = f"{REJECTED_PREFIX}{landed.name}"
        reason = (
            f"{landed.key} was rejected at {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} and nothing from it was "
            f"loaded.\nreason: {rejected.reason} ({REJECTIONS[rejected.reason]})\ndetail: {rejected.detail}\n"
            f"Fix the file and upload it again to {LANDING_PREFIX} "
            "(columns: see lakehouse/contracts/pos_csv.py).\n"
        )
        self.s3.put_object(
            Bucket=self.bucket, Key=f"{target}.reason.txt", Body=reason.encode(), ContentType="text/plain"
        )
        self._move(landed.key, target)
        self.summary.rejected[landed.key] = rejected.reason
        print(f"csv: {landed.key} rejected ({rejected.reason}: {rejected.detail}) -> {target}")

    def _move(self, source: str, target: str) -> None:
        self.s3.copy_object(Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source})
        self.s3.delete_object(Bucket=self.bucket, Key=source)


def upload(settings: Settings, path: Path, bucket: str | None = None) -> str:
    """Put a journal file into landing/pos_csv/ as a store would; its key."""
    key = f"{LANDING_PREFIX}{path.name}"
    client("s3", settings).put_object(
        Bucket=bucket or settings.bronze_bucket, Key=key, Body=path.read_bytes()
    )
    return key


def load_landed(
    settings: Settings, bucket: str | None = None, stream: str | None = None, schema: str = INGESTION_SCHEMA
) -> CsvRunSummary:
    """One pass: every upload waiting in landing/pos_csv/ loaded, rejected or found a duplicate."""
    return CsvLoader(
        settings, bucket or settings.bronze_bucket, stream or settings.kinesis_stream, schema
    ).run()
