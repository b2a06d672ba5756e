"""After each gold load, each store's forecast as files: CSV and Parquet with a manifest, on S3.

Systems that want figures as files rather than SQL (a store's ordering system, a supplier portal)
read `s3://<EXPORTS_BUCKET>/forecasts/store=<id>/as_of=<date>/`, one folder per store and data
day. One row per SKU and forecast day (the next FORECAST_DAYS days):

| column               | meaning                                                                      |
|----------------------|------------------------------------------------------------------------------|
| store_id, sku, date  | the store-SKU and the forecast day                                           |
| units                | gold's mean forecast of the day (stock_forecast.forecast_units)              |
| lower, upper         | the 5 % and 95 % quantiles of the day's demand: the negative binomial of     |
|                      | gold's stock model with that mean and the store-SKU's dispersion (Poisson    |
|                      | when it has none)                                                            |
| stockout_probability | the chance that demand from the first forecast day through this one reaches  |
|                      | the inventory position (on hand + on order) of the load, the same model      |
| recommended_order    | the store-SKU's order of the load (stock_position.recommended_order_qty),    |
|                      | the same on every row of the SKU: what to order now                          |

Atomic, for a reader at any moment. S3 replaces an object whole: a GET sees the old object or
the new one, never part of either (S3Proxy, the local stack's S3, writes a temporary file and
renames it into place, the same promise). Two files and a manifest must also agree with each
other, so a load writes, per store:

1. `load=<run id>/forecast.csv` and `.parquet`: new keys, never rewritten, so nothing anyone
   reads changes under them;
2. `forecast.csv` and `forecast.parquet` in the as_of folder: server-side copies of those, each
   replacing the previous one whole (for readers that want one file and a stable name);
3. `manifest.json` last: the load's run id, its rows and, for each format, the immutable key,
   its size and SHA-256. A reader that wants the files to agree reads the manifest, then the
   keys it names: it sees the previous load or this one, never a mix, and can check the digest.

Older `load=` folders of the same as_of are deleted after the manifest moves on, keeping the
one the previous manifest named (for a reader that read it a moment ago). Folders of earlier
days are never touched here: the bucket's lifecycle rule (terraform/files.tf) decides how long
they stay; S3Proxy implements no lifecycle rules, so locally they stay until deleted by hand.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError
from scipy import stats

from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.resources import EXPORTS_PREFIX
from spark_jobs.gold.sql_files import gold_sql

COLUMNS = ("store_id", "sku", "date", "units", "lower", "upper", "stockout_probability", "recommended_order")
PARQUET_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("sku", pa.string()),
        ("date", pa.date32()),
        ("units", pa.decimal128(12, 3)),
        ("lower", pa.int32()),
        ("upper", pa.int32()),
        ("stockout_probability", pa.float64()),
        ("recommended_order", pa.int32()),
    ]
)
LOWER_QUANTILE, UPPER_QUANTILE = 0.05, 0.95
MANIFEST = "manifest.json"
FILES = {"csv": "forecast.csv", "parquet": "forecast.parquet"}


class ExportError(RuntimeError):
    """The files could not be written; the message says what is missing and what to do."""


@dataclass(frozen=True)
class ForecastRow:
    store_id: str
    sku: str
    date: date
    units: Decimal
    lower: int
    upper: int
    stockout_probability: float
    recommended_order: int

    def as_csv(self) -> list[str]:
        return [
            self.store_id,
            self.sku,
            self.date.isoformat(),
            str(self.units),
            str(self.lower),
            str(self.upper),
            f"{self.stockout_probability:.4f}",
            str(self.recommended_order),
        ]


@dataclass
class ExportSummary:
    bucket: str
    stores: int = 0
    rows: int = 0
    manifests: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"bucket": self.bucket, "stores": self.stores, "rows": self.rows, "manifests": self.manifests}


def demand(mean: float, dispersion: float | None):
    """The day's (or days') demand: negative binomial with variance mean x (1 + dispersion), as gold's
    stock model (stock_model.py), or Poisson when the store-SKU has no dispersion."""
    if dispersion is None or dispersion <= 1e-9:
        return stats.poisson(mean)
    return stats.nbinom(mean / dispersion, 1.0 / (1.0 + dispersion))


def store_rows(rows: Iterable[tuple]) -> list[ForecastRow]:
    """Gold's forecast rows of one store (queries/exports/forecast.sql, by SKU and day) as file rows."""
    found: list[ForecastRow] = []
    cumulative: dict[str, float] = defaultdict(float)
    for store_id, sku, day, units, position, dispersion, order, _ in rows:
        mean = float(units)
        dispersion = float(dispersion) if dispersion is not None else None
        cumulative[sku] += mean
        lower, upper = (0, 0) if mean <= 0 else demand(mean, dispersion).ppf([LOWER_QUANTILE, UPPER_QUANTILE])
        stock = int(position or 0)
        if stock <= 0:
            probability = 1.0
        elif cumulative[sku] <= 0:
            probability = 0.0
        else:
            probability = float(demand(cumulative[sku], dispersion).sf(stock - 1))
        found.append(
            ForecastRow(store_id, sku, day, units, int(lower), int(upper), probability, int(order or 0))
        )
    return found


def csv_bytes(rows: list[ForecastRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(row.as_csv() for row in rows)
    return out.getvalue().encode()


def parquet_bytes(rows: list[ForecastRow]) -> bytes:
    table = pa.Table.from_pylist(
        [{name: getattr(row, name) for name in COLUMNS} for row in rows], PARQUET_SCHEMA
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def folder(store_id: str, as_of: date) -> str:
    return f"{EXPORTS_PREFIX}store={store_id}/as_of={as_of:%Y-%m-%d}/"


class ForecastWriter:
    """Writes one store's files for one load in the order the module doc gives."""

    def __init__(self, settings: Settings, bucket: str) -> None:
        self.s3 = client("s3", settings, stage="spark")
        self.bucket = bucket

    def write(self, store_id: str, as_of: datetime, run_id: str, rows: list[ForecastRow]) -> str:
        base = folder(store_id, as_of.astimezone(UTC).date())
        previous = self.read_manifest(base)
        load = f"{base}load={run_id}/"
        files = {}
        for kind, body in (("csv", csv_bytes(rows)), ("parquet", parquet_bytes(rows))):
            key = f"{load}{FILES[kind]}"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            self.s3.copy_object(
                Bucket=self.bucket, Key=f"{base}{FILES[kind]}", CopySource={"Bucket": self.bucket, "Key": key}
            )
            files[kind] = {"key": key, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        manifest = {
            "store_id": store_id,
            "as_of": as_of.astimezone(UTC).isoformat(),
            "load_run_id": run_id,
            "written_at": datetime.now(UTC).isoformat(),
            "rows": len(rows),
            "skus": len({row.sku for row in rows}),
            "first_date": min(row.date for row in rows).isoformat(),
            "last_date": max(row.date for row in rows).isoformat(),
            "columns": list(COLUMNS),
            "files": files,
        }
        self.s3.put_object(
            Bucket=self.bucket,
            Key=f"{base}{MANIFEST}",
            Body=json.dumps(manifest, indent=1).encode(),
            ContentType="application/json",
        )
        keep = {load, f"{base}load={previous['load_run_id']}/" if previous else load}
        self._drop_older_loads(base, keep)
        return f"{base}{MANIFEST}"

    def read_manifest(self, base: str) -> dict | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=f"{base}{MANIFEST}")["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise
        return json.loads(body)

    def _drop_older_loads(self, base: str, keep: set[str]) -> None:
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{base}load=")
        for item in listed.get("Contents", []):
            if not any(item["Key"].startswith(prefix) for prefix in keep):
                self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])


def export_forecasts(
    settings: Settings, schema: str | None = None, run_id: str | int | None = None
) -> ExportSummary:
    """Every store's forecast of gold's latest load to the exports bucket; one manifest per store."""
    schema = schema or settings.gold.schema
    bucket = settings.files.exports_bucket
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(gold_sql("queries/exports/forecast", schema))
        fetched = cursor.fetchall()
    by_store: dict[str, list[tuple]] = defaultdict(list)
    for row in fetched:
        by_store[row[0]].append(row)
    try:
        client("s3", settings, stage="spark").head_bucket(Bucket=bucket)
    except ClientError as error:
        raise ExportError(
            f"exports bucket {bucket!r} is not there ({error.response['Error']['Code']}): create it with "
            "`make up` (or `make tf-apply`), or set EXPORTS_BUCKET in .env; gold itself is loaded"
        ) from None
    writer = ForecastWriter(settings, bucket)
    summary = ExportSummary(bucket)
    load_id = str(run_id) if run_id is not None else datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    for store_id, rows in sorted(by_store.items()):
        as_of = max(row[-1] for row in rows)
        summary.manifests.append(writer.write(store_id, as_of, load_id, store_rows(rows)))
        summary.stores += 1
        summary.rows += len(rows)
    return summary
