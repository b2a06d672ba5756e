"""`make demo`: backfill history, stream live while Mage's schedules run, then summarise every layer.

The demo does not run the stages itself: the every-minute triggers of `kinesis_to_bronze`,
`bronze_to_silver` and `silver_to_gold` in the Mage server carry the backfill to gold, exactly
as they would for a user who only starts the producer. For the live phase it also starts the
`pos_live` streaming pipeline (`mage run`, as `make live` does), which takes new sales to gold
in seconds rather than minutes, and stops it at the end so the schedules take over again
(`--schedules-only` leaves it out). The demo waits for gold to catch up with what it sent and
shows each layer's progress meanwhile.

One store of the backfill (`--csv-store`, the last by default) has tills that cannot stream: its
sales leave as daily POS journals (CSV, `producer/csv_out.py`), which the demo uploads to
`landing/pos_csv/` as the store would; Mage's every-minute `csv_to_bronze` turns them into
bronze events, and the demo waits until that store's revenue in gold equals its journals'.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from ingestion.csv_landing import upload
from ingestion.drain import bronze_lines
from lakehouse.config import Settings, load_settings
from lakehouse.db import connect
from ops.demo_logins import ensure_demo_logins
from ops.mage import start_pipeline, stop_pipeline, wait_for_log_line
from ops.stack.lag import gold_last_load
from producer import KinesisSink, Simulation, SimulationConfig
from producer.catalog import build_catalog
from producer.csv_out import CsvJournal
from producer.simulation import LIVE

# What pos_live's sink logs after each pass (mage_project/data_exporters/log_live_pass.py).
FIRST_PASS = "[LogLivePass]"


def wait_for_gold(settings: Settings, newest_sent: datetime, timeout: float) -> bool:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        last_load = gold_last_load(settings)
        watermark = None if last_load is None else last_load[0]
        print(
            f"  waiting for gold: newest event in gold {watermark or 'none yet'}, sent up to {newest_sent}",
            flush=True,
        )
        if watermark is not None and watermark >= newest_sent:
            return True
        time.sleep(15)
    return False


def csv_journal(config: SimulationConfig, store: str) -> CsvJournal:
    """Where the simulation of `config` leaves `store`'s sales as daily journals (a temporary folder)."""
    zone = next(
        s.timezone
        for s in build_catalog(config.seed, config.stores, config.products).stores
        if s.store_id == store
    )
    return CsvJournal(Path(tempfile.mkdtemp(prefix="demo-journals-")), {store: ZoneInfo(zone)})


def send(
    settings: Settings, config: SimulationConfig, label: str, journal: CsvJournal | None = None
) -> tuple[int, datetime]:
    """Stream the simulation; with a `journal`, its store's sales are uploaded as CSV journals instead."""
    simulation = Simulation(config)
    newest_ms = 0

    def tracked():
        nonlocal newest_ms
        for event in simulation:
            newest_ms = max(newest_ms, event.event_time_ms)
            yield event

    events = tracked() if journal is None else journal.divert(tracked())
    summary = KinesisSink(settings).send(events)
    if journal is not None:
        written = journal.write()
        for path in written.files:
            upload(settings, path)
        stores = ", ".join(journal.zones)
        print(f"  {label}: store {stores} cannot stream: {written.line()} uploaded to landing/pos_csv/")
    if summary.events_failed:
        raise SystemExit(f"{label}: {summary.events_failed} events could not be delivered; see the log above")
    print(
        f"  {label}: {summary.events_sent:,} events in {summary.records_sent:,} Kinesis records", flush=True
    )
    truth_path = settings.stack_run_dir / "demo" / f"truth-{label}.json"
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    simulation.truth.write(truth_path)
    return summary.events_sent, datetime.fromtimestamp(newest_ms / 1000, UTC)


def journal_revenue(folder: Path) -> Decimal:
    """Revenue of the journals' lines, each (store, basket, line) once, as silver counts them."""
    lines = {}
    for path in folder.glob("*.csv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                key = (row["store_id"], row["basket_id"], row["line_number"])
                lines[key] = int(row["quantity"]) * Decimal(row["unit_price"]) - Decimal(row["discount"])
    return sum(lines.values(), Decimal(0))


def wait_for_csv_store(settings: Settings, store: str, expected: Decimal, timeout: float) -> bool:
    """Until the journal store's revenue in gold equals its journals' (csv_to_bronze, then silver, gold)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with connect(settings) as connection, connection.cursor() as cursor:
            cursor.execute(
                f'select coalesce(sum(revenue), 0) from "{settings.gold.schema}".agg_sales_store_daily '
                "where store_id = %s",
                (store,),
            )
            (in_gold,) = cursor.fetchone()
        print(
            f"  CSV store {store}: revenue in gold {in_gold:,.2f}, in its journals {expected:,.2f}",
            flush=True,
        )
        if in_gold == expected:
            return True
        time.sleep(15)
    return False


def print_summary(settings: Settings, produced: int) -> None:
    from spark_jobs.session import s3a_uri, spark_session
    from spark_jobs.silver.tables import QUARANTINE, table_path

    schema = settings.gold.schema
    print("\nSummary")
    print(f"  {'events produced':<32}{produced:>12,}")
    print(f"  {'bronze lines':<32}{len(bronze_lines(settings)):>12,}")
    spark = spark_session("stock-lakehouse-demo", settings)
    root = s3a_uri(settings.silver_bucket)
    for table in ("sales_lines", "deliveries", "stock_counts", "stores", "products", QUARANTINE):
        rows = spark.read.format("delta").load(table_path(root, table)).count()
        print(f"  {'silver ' + table:<32}{rows:>12,}")
    spark.stop()
    with connect(settings) as connection, connection.cursor() as cursor:
        for table in ("fact_sales", "fact_inventory_snapshot", "stock_alerts"):
            cursor.execute(f'select count(*) from "{schema}".{table}')
            print(f"  {'gold ' + table:<32}{cursor.fetchone()[0]:>12,}")
        cursor.execute(f'select max(sold_at), max(loaded_at) from "{schema}".fact_sales')
        newest_event, loaded_at = cursor.fetchone()
        lag = (loaded_at - newest_event).total_seconds()
        print(
            f"  {'freshness':<32}newest sale {newest_event:%H:%M:%S} UTC, "
            f"in gold at {loaded_at:%H:%M:%S} ({lag:.0f} s later)"
        )
        cursor.execute(
            "select severity, kind, store_id, sku, on_hand, reorder_point, predicted_stockout_date "
            f'from "{schema}".v_open_alerts limit 10'
        )
        rows = [["-" if value is None else str(value) for value in row] for row in cursor.fetchall()]
    print("\nOpen alerts, most urgent first (make alerts shows the SQS feed)")
    header = ["severity", "kind", "store", "sku", "on hand", "reorder pt", "stockout by"]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        print(("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip())
    print(f"\n  Mage UI   {settings.mage_url}")
    print("  psql      make psql   (then: select * from gold.v_open_alerts limit 20;)")
    print("  stop      make down")


def prepare_dashboard(settings: Settings) -> None:
    """Seed the revenue targets from history, create the demo logins, and say where to look."""
    from spark_jobs.gold.sql_files import gold_sql

    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(gold_sql("targets/seed_store_daily_targets", settings.gold.schema))
        (seeded,) = cursor.fetchone()
    logins = ensure_demo_logins(settings)
    print(f"\n  revenue targets seeded from history: {seeded} store-days (gold.store_daily_targets)")
    print(
        f"  Dashboard {settings.dashboard.url}   sign in as {logins.analyst} (every store) or "
        f"{logins.manager} ({', '.join(logins.manager_stores)}); their passwords are in .env "
        "(DASHBOARD_DEMO_ANALYST_PASSWORD, DASHBOARD_DEMO_MANAGER_PASSWORD)"
    )


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    demo = settings.demo
    parser = argparse.ArgumentParser(prog="python -m ops.demo", description=__doc__)
    parser.add_argument("--days", type=float, default=demo.backfill_days)
    parser.add_argument("--live-seconds", type=float, default=demo.live_seconds)
    parser.add_argument("--stores", type=int, default=demo.stores)
    parser.add_argument("--products", type=int, default=demo.products)
    parser.add_argument("--rate", type=float, default=demo.rate)
    parser.add_argument("--seed", type=int, default=demo.seed)
    parser.add_argument(
        "--wait-seconds", type=float, default=900, help="how long to wait for gold to catch up"
    )
    parser.add_argument(
        "--schedules-only", action="store_true", help="live phase without pos_live: only the schedules"
    )
    parser.add_argument(
        "--csv-store",
        help="the store whose backfill sales are uploaded as CSV journals (default: the last; '' for none)",
    )
    arguments = parser.parse_args(argv)

    print(f"1/4 backfill: {arguments.days:g} simulated days of POS history into Kinesis", flush=True)
    start = datetime.now(UTC).date().toordinal() - int(arguments.days) - 1
    backfill = SimulationConfig(
        seed=arguments.seed,
        stores=arguments.stores,
        products=arguments.products,
        days=arguments.days,
        start_date=datetime.fromordinal(start).date(),
        bad_rate=0.01,
    )
    csv_store = f"S{arguments.stores:03d}" if arguments.csv_store is None else arguments.csv_store
    journal = csv_journal(backfill, csv_store) if csv_store else None
    produced, newest = send(settings, backfill, "backfill", journal)
    print("2/4 waiting for Mage's every-minute schedules to carry it to gold", flush=True)
    if not wait_for_gold(settings, newest, arguments.wait_seconds):
        print("gold did not catch up in time: look at the pipeline runs in the Mage UI", file=sys.stderr)
        return 1
    if journal is not None and not wait_for_csv_store(
        settings, csv_store, journal_revenue(journal.directory), arguments.wait_seconds
    ):
        print(
            f"store {csv_store}'s journals did not reach gold in time: look at csv_to_bronze in the Mage UI "
            "(a Mage started before it existed needs a restart to schedule it)",
            file=sys.stderr,
        )
        return 1
    streaming = None
    if not arguments.schedules_only:
        log_path = settings.stack_run_dir / "logs" / "pos_live.log"
        print(f"3/4 starting pos_live, Kinesis -> gold continuously (log: {log_path})", flush=True)
        streaming = start_pipeline("pos_live", settings, log_path)
    try:
        if streaming is not None:
            wait_for_log_line(log_path, streaming, FIRST_PASS, arguments.wait_seconds)
        print(f"4/4 live: {arguments.rate:g} baskets/s for {arguments.live_seconds:g} s", flush=True)
        live = dataclasses.replace(
            backfill, mode=LIVE, rate=arguments.rate, duration_seconds=arguments.live_seconds
        )
        live_count, newest = send(settings, live, "live")
        wait_for_gold(settings, newest, arguments.wait_seconds)
    finally:
        if streaming is not None:
            stop_pipeline(streaming)
            print("pos_live stopped; the every-minute schedules carry on", flush=True)
    print_summary(settings, produced + live_count)
    prepare_dashboard(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
