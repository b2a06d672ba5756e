"""Stores that upload CSV: landing/pos_csv/ to bronze to silver to gold, on real S3, PostgreSQL and Spark.

One store of a small simulated chain uploads its sales as daily journals; the other stores and
everything else stream through Kinesis. Its files go in once, again (the same bytes under
another name), and corrected (a quantity changed, a line added, a line with a bad value), and
gold's revenue per store and day must still equal the producer's truth, plus only the added
line. Unreadable files are rejected whole, each with its reason beside it.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ingestion.bronze_format import decode_object
from ingestion.csv_events import EMPTY, ENCODING_ERROR, NOT_CSV, WRONG_HEADER
from ingestion.csv_landing import LOADED_PREFIX, REJECTED_PREFIX, load_landed, wake_up
from ingestion.drain import drain
from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.contracts.pos_csv import COLUMNS
from lakehouse.db import connect
from lakehouse.resources import LANDING_PREFIX
from ops.mage import run_pipeline
from producer import KinesisSink, Simulation, SimulationConfig
from producer.csv_out import CsvJournal
from spark_jobs.gold.job import GoldRun, run_silver_to_gold
from spark_jobs.gold.migrate import INGESTION_MIGRATIONS_DIR, migrate
from spark_jobs.session import s3a_uri
from spark_jobs.silver.job import run_bronze_to_silver
from spark_jobs.silver.tables import QUARANTINE, table_path

pytestmark = pytest.mark.integration

CONFIG = SimulationConfig(seed=31, stores=2, products=20, days=2, traffic_scale=0.3)
CSV_STORE = "S002"


@pytest.fixture
def lake(own_lake, postgres: Settings):
    """Own stream and buckets, and own ingestion and gold schemas (migrated as the owner)."""
    name = f"csv{uuid.uuid4().hex[:8]}"
    settings = own_lake(name)
    schemas = {"ingestion": f"ing_{name}", "gold": f"gold_{name}"}
    migrate(settings, schemas["ingestion"], directory=INGESTION_MIGRATIONS_DIR, log=lambda message: None)
    migrate(settings, schemas["gold"], log=lambda message: None)
    yield settings, schemas
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        for schema in schemas.values():
            cursor.execute(f'drop schema if exists "{schema}" cascade')


def journal(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode()


def upload(settings: Settings, name: str, body: bytes) -> None:
    client("s3", settings).put_object(Bucket=settings.bronze_bucket, Key=f"{LANDING_PREFIX}{name}", Body=body)
    time.sleep(1.1)  # S3 keeps LastModified to the second: uploads keep their order


def keys(settings: Settings, prefix: str) -> list[str]:
    listed = client("s3", settings).list_objects_v2(Bucket=settings.bronze_bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_unreadable_files_are_rejected_whole_with_their_reason(lake):
    settings, schemas = lake
    good = journal([["2024-01-01T10:00:00.000Z", "S001", str(uuid.uuid4()), "1", "SKU-00001", "1", "1.00",
                     "0.00", "card", ""]])  # fmt: skip
    bad = {
        "empty.csv": (b"", EMPTY),
        "latin1.csv": (good.replace(b"card", b"cart\xe9"), ENCODING_ERROR),
        "photo.csv": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", NOT_CSV),
        "renamed.csv": (good.replace(b"loyalty_id", b"loyalty"), WRONG_HEADER),
    }
    for name, (body, _) in bad.items():
        upload(settings, f"S001/{name}", body)
    assert wake_up(settings).waiting == len(bad)

    summary = load_landed(settings, schema=schemas["ingestion"])

    assert summary.rejected == {f"{LANDING_PREFIX}S001/{name}": reason for name, (_, reason) in bad.items()}
    assert summary.loaded == 0 and not summary.bronze_keys
    assert keys(settings, LANDING_PREFIX) == []
    assert keys(settings, "raw/") == []
    s3 = client("s3", settings)
    for name, (body, reason) in bad.items():
        target = f"{REJECTED_PREFIX}S001/{name}"
        assert s3.get_object(Bucket=settings.bronze_bucket, Key=target)["Body"].read() == body
        note = (
            s3.get_object(Bucket=settings.bronze_bucket, Key=f"{target}.reason.txt")["Body"].read().decode()
        )
        assert f"reason: {reason}" in note and "nothing from it was loaded" in note
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(f'select count(*) from "{schemas["ingestion"]}".csv_files')
        assert cursor.fetchone() == (0,)


def _line_revenue(quantity: int, price: str, discount: str) -> Decimal:
    return quantity * Decimal(price) - Decimal(discount)


def test_a_csv_store_reaches_gold_once_however_often_and_however_corrected_it_is_uploaded(
    lake, spark, tmp_path
):
    settings, schemas = lake
    simulation = Simulation(CONFIG)
    events = list(simulation)
    truth: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for event in events:
        if event.event_type == "sale":
            sale = json.loads(event.payload)
            for line in sale["lines"]:
                revenue = _line_revenue(line["quantity"], line["unit_price"], line["discount"])
                truth[(sale["store_id"], sale["event_time"][:10])] += revenue
    zones = {store.store_id: ZoneInfo(store.timezone) for store in simulation.catalog.stores}
    journals = CsvJournal(tmp_path, {CSV_STORE: zones[CSV_STORE]})  # what --csv-out does
    streamed = list(journals.divert(events))
    files = journals.write().files
    assert KinesisSink(settings).send(streamed).events_failed == 0

    for path in files:
        upload(settings, path.name, path.read_bytes())
    # The same file again, under another name: loads nothing.
    upload(settings, f"again/{files[0].name}", files[0].read_bytes())
    # A corrected file: one quantity changed, one line added, one line with a bad value.
    corrected = list(csv.reader(io.StringIO(files[0].read_text())))[1:]
    original_rows = len(corrected)
    corrected[0][5] = str(int(corrected[0][5]) + 5)
    added = [*corrected[1][:3], "99", *corrected[1][4:]]
    bad = [*corrected[2][:3], "98", *corrected[2][4:5], "two", *corrected[2][6:]]
    upload(settings, f"fixed/{files[0].name}", journal([*corrected, added, bad]))
    truth[(CSV_STORE, added[0][:10])] += _line_revenue(int(added[5]), added[6], added[7])

    loaded = load_landed(settings, schema=schemas["ingestion"])
    assert loaded.loaded == len(files) + 1 and loaded.duplicates == 1 and not loaded.rejected
    assert (loaded.changed_lines, loaded.new_lines - journals.summary.rows) == (1, 2)
    assert loaded.unchanged_lines == original_rows - 1
    assert len(loaded.bronze_keys) == len(files) + 1
    assert keys(settings, LANDING_PREFIX) == []
    assert len(keys(settings, LOADED_PREFIX)) == len(files) + 2
    assert drain(settings).events == len(streamed)

    silver = run_bronze_to_silver(spark, settings)
    assert silver.reconciliation_holds, silver
    gold = run_silver_to_gold(spark, settings, schema=schemas["gold"], publish=False, full=True)
    assert isinstance(gold, GoldRun), gold

    read = spark.read.format("delta")
    quarantine = read.load(table_path(s3a_uri(settings.silver_bucket), QUARANTINE)).where(
        "stream is not null and shard_id = 'csv'"
    )
    reasons = sorted((row["reason"], row["detail"][:30]) for row in quarantine.collect())
    assert [reason for reason, _ in reasons] == ["duplicate_event_id", "wrong_type"], reasons
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"select store_id, to_char(to_date(date_key::text, 'YYYYMMDD'), 'YYYY-MM-DD'), revenue "
            f'from "{schemas["gold"]}".agg_sales_store_daily'
        )
        gold_revenue = {(store, day): revenue for store, day, revenue in cursor.fetchall()}
    assert gold_revenue == dict(truth)
    assert {store for store, _ in gold_revenue} == {"S001", CSV_STORE}


def test_the_scheduled_pipeline_lists_landing_and_loads_what_it_finds(lake):
    """What Mage's every-minute trigger runs: csv_to_bronze, headless, on this test's bucket and schema.

    The lake's S3Proxy sends no notifications, so the run says so and finds the files by listing.
    """
    settings, schemas = lake
    good = journal([["2024-01-01T10:00:00.000Z", "S001", str(uuid.uuid4()), "1", "SKU-00001", "2", "1.50",
                     "0.00", "cash", "L00100001"]])  # fmt: skip
    upload(settings, "pos_S001_2024-01-01.csv", good)
    upload(settings, "notes.txt", b"\x00\x01 not a journal")
    variables = {
        "bucket": settings.bronze_bucket,
        "stream": settings.kinesis_stream,
        "ingestion_schema": schemas["ingestion"],
    }

    run = run_pipeline("csv_to_bronze", variables, settings=settings)

    assert run.succeeded, run.output[-4000:]
    assert "sends no bucket notifications" in run.output
    assert keys(settings, LANDING_PREFIX) == []
    assert keys(settings, f"{REJECTED_PREFIX}notes.txt")
    (bronze,) = keys(settings, "raw/")
    body = client("s3", settings).get_object(Bucket=settings.bronze_bucket, Key=bronze)["Body"].read()
    (line,) = decode_object(body)
    assert json.loads(line["payload"])["lines"][0]["quantity"] == 2
