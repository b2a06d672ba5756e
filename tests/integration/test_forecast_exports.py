"""Forecast files on S3 after a gold load: what they hold, and what a reader sees during a write.

Gold is a migrated schema of its own holding one load's forecast and stock positions, written
as the loader writes them; the files go to an exports bucket of the test's own.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.resources import ensure_bucket
from spark_jobs.gold.exports import (
    COLUMNS,
    FILES,
    MANIFEST,
    ForecastRow,
    ForecastWriter,
    demand,
    export_forecasts,
    folder,
)
from spark_jobs.gold.migrate import migrate

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 11, 30, 21, 15, tzinfo=UTC)
DAYS = 14
# store, sku: (mean units a day, inventory on hand, on order, dispersion, recommended order)
POSITIONS = {
    ("S001", "SKU-00001"): (Decimal("4.250"), 30, 0, Decimal("0.8"), 12),
    ("S001", "SKU-00002"): (Decimal("0.000"), 5, 0, None, 0),
    ("S002", "SKU-00001"): (Decimal("12.500"), 0, 24, Decimal("1.6"), 40),
}


@pytest.fixture
def gold(localstack: Settings, postgres: Settings):
    """Settings with an exports bucket and a gold schema of their own, holding one load."""
    name = f"exp{uuid.uuid4().hex[:8]}"
    settings = dataclasses.replace(
        localstack, files=dataclasses.replace(localstack.files, exports_bucket=f"{name}-exports")
    )
    ensure_bucket(settings, settings.files.exports_bucket)
    schema = f"gold_{name}"
    migrate(settings, schema, log=lambda message: None)
    with connect(settings) as connection, connection.cursor() as cursor:
        for store in sorted({store for store, _ in POSITIONS}):
            cursor.execute(
                f'insert into "{schema}".dim_store (store_id, store_name, region, timezone, snapshot_at) '
                "values (%s, %s, 'north', 'UTC', %s)",
                (store, f"Store {store}", AS_OF),
            )
        for (store, sku), (mean, on_hand, on_order, dispersion, order) in POSITIONS.items():
            cursor.execute(
                f'insert into "{schema}".stock_position (store_id, sku, as_of, on_hand, on_order, '
                "inventory_position, mean_7d, mean_28d, ewma, demand_std, demand_days, dow_index, "
                "service_level, lead_time_days, safety_stock, reorder_point, order_up_to_level, "
                "recommended_order_qty, risk, demand_dispersion) values (%s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, 1, 28, array[1,1,1,1,1,1,1], 0.95, 3, 2, 10, 20, %s, 'ok', %s)",
                (
                    store,
                    sku,
                    AS_OF,
                    on_hand,
                    on_order,
                    on_hand + on_order,
                    mean,
                    mean,
                    mean,
                    order,
                    dispersion,
                ),
            )
            for ahead in range(1, DAYS + 1):
                weekday_factor = Decimal("1.2") if ahead % 7 == 0 else Decimal("1")
                cursor.execute(
                    f'insert into "{schema}".stock_forecast '
                    "(store_id, sku, forecast_date, forecast_units, as_of) values (%s, %s, %s, %s, %s)",
                    (store, sku, AS_OF.date() + timedelta(days=ahead), mean * weekday_factor, AS_OF),
                )
    yield settings, schema
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(f'drop schema if exists "{schema}" cascade')


def _get(settings: Settings, key: str) -> bytes:
    return client("s3", settings).get_object(Bucket=settings.files.exports_bucket, Key=key)["Body"].read()


def test_files_hold_gold_forecast_of_the_load_with_interval_probability_and_order(gold):
    settings, schema = gold
    summary = export_forecasts(settings, schema, run_id=41)
    assert summary.stores == 2 and summary.rows == len(POSITIONS) * DAYS

    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(f'select store_id, sku, forecast_date, forecast_units from "{schema}".stock_forecast')
        expected = {(store, sku, day): units for store, sku, day, units in cursor.fetchall()}
    for store in ("S001", "S002"):
        base = folder(store, AS_OF.date())
        manifest = json.loads(_get(settings, f"{base}{MANIFEST}"))
        assert manifest["load_run_id"] == "41" and manifest["rows"] == sum(
            DAYS for s, _ in POSITIONS if s == store
        )
        assert manifest["first_date"] == str(AS_OF.date() + timedelta(days=1))
        csv_body = _get(settings, manifest["files"]["csv"]["key"])
        assert hashlib.sha256(csv_body).hexdigest() == manifest["files"]["csv"]["sha256"]
        assert _get(settings, f"{base}{FILES['csv']}") == csv_body
        rows = list(csv.DictReader(io.StringIO(csv_body.decode())))
        assert tuple(rows[0]) == COLUMNS
        parquet = pq.read_table(io.BytesIO(_get(settings, manifest["files"]["parquet"]["key"]))).to_pylist()
        assert len(parquet) == len(rows)
        for text, typed in zip(rows, parquet, strict=True):
            key = (store, text["sku"], date.fromisoformat(text["date"]))
            assert Decimal(text["units"]) == typed["units"] == expected.pop(key)
            mean, on_hand, on_order, dispersion, order = POSITIONS[(store, text["sku"])]
            assert int(text["recommended_order"]) == typed["recommended_order"] == order
            assert (
                int(text["lower"]) == typed["lower"] <= typed["units"] <= typed["upper"] == int(text["upper"])
            )
            assert abs(float(text["stockout_probability"]) - typed["stockout_probability"]) < 1e-4
            if mean > 0:
                day = demand(float(typed["units"]), float(dispersion) if dispersion else None)
                assert (typed["lower"], typed["upper"]) == tuple(int(q) for q in day.ppf([0.05, 0.95]))
            if on_hand + on_order == 0:
                assert typed["stockout_probability"] == 1.0
            if mean == 0:
                assert typed["stockout_probability"] == 0.0 and typed["upper"] == 0
        probabilities = [t["stockout_probability"] for t in parquet if t["sku"] == "SKU-00001"]
        assert probabilities == sorted(probabilities)  # demand only adds up over the days
    assert not expected, f"gold rows missing from the files: {sorted(expected)[:3]}"


def _rows(units: str) -> list[ForecastRow]:
    return [
        ForecastRow("S009", f"SKU-{n:05d}", AS_OF.date() + timedelta(days=d), Decimal(units), 1, 9, 0.5, 3)
        for n in range(400)
        for d in range(1, DAYS + 1)
    ]


def test_a_reader_during_writes_sees_the_old_load_or_the_new_never_a_mix(gold):
    settings, _ = gold
    writer = ForecastWriter(settings, settings.files.exports_bucket)
    loads = {str(run): _rows(f"{run}.000") for run in range(1, 6)}
    writer.write("S009", AS_OF, "0", _rows("0.000"))
    base = folder("S009", AS_OF.date())
    done, seen, problems = threading.Event(), set(), []

    def read(s3, key: str) -> bytes:
        return s3.get_object(Bucket=settings.files.exports_bucket, Key=key)["Body"].read()

    def read_once(s3) -> None:
        stable = read(s3, f"{base}{FILES['csv']}")
        units = {row["units"] for row in csv.DictReader(io.StringIO(stable.decode()))}
        if len(units) != 1 or len(stable.splitlines()) != 400 * DAYS + 1:
            problems.append(f"stable csv mixes or is cut: {sorted(units)[:3]}, {len(stable)} bytes")
        manifest = json.loads(read(s3, f"{base}{MANIFEST}"))
        files = {}
        for kind, entry in manifest["files"].items():
            try:
                files[kind] = read(s3, entry["key"])
            except ClientError as error:
                # Two loads passed since the manifest was read: a reader reads it again.
                assert error.response["Error"]["Code"] == "NoSuchKey", error
                return
            if hashlib.sha256(files[kind]).hexdigest() != entry["sha256"]:
                problems.append(f"{entry['key']} differs from its manifest")
        csv_units = {row["units"] for row in csv.DictReader(io.StringIO(files["csv"].decode()))}
        parquet_units = {
            str(v) for v in pq.read_table(io.BytesIO(files["parquet"])).column("units").to_pylist()
        }
        if csv_units != parquet_units or csv_units != {f"{manifest['load_run_id']}.000"}:
            problems.append(f"load {manifest['load_run_id']}: csv {csv_units}, parquet {parquet_units}")
        seen.add(manifest["load_run_id"])

    def read_continuously() -> None:
        s3 = client("s3", settings)
        try:
            while not done.is_set():
                read_once(s3)
        except Exception as error:  # reported by the test, not lost in the thread
            problems.append(repr(error))

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for run, rows in loads.items():
            writer.write("S009", AS_OF, run, rows)
    finally:
        done.set()
        reader.join(timeout=120)
    assert not problems, problems[:5]
    assert len(seen) >= 2, f"the reader saw only loads {seen}: it did not overlap the writes"
    # Only the newest load and the one before it are kept in the as_of folder.
    listed = client("s3", settings).list_objects_v2(
        Bucket=settings.files.exports_bucket, Prefix=f"{base}load="
    )
    assert {item["Key"].split("load=")[1].split("/")[0] for item in listed["Contents"]} == {"4", "5"}
