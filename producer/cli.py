"""`python -m producer`: run the store simulator and stream its events to Kinesis (or NDJSON).

Exit codes: 0 when every event was delivered, 1 when any record failed or delivery stopped on
an error, 2 for bad arguments. The first SIGINT/SIGTERM ends generation and flushes what was
generated; a second stops taking events and flushes what is queued; a third kills.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from lakehouse import aws
from lakehouse.config import ConfigError, load_settings
from lakehouse.contracts.envelope import CODECS, ZLIB
from lakehouse.resources import ensure_stream
from producer.bad_events import BAD_CLASSES
from producer.csv_out import CsvJournal
from producer.kinesis import DeliveryError, DeliverySummary, KinesisSink
from producer.ndjson import NdjsonSink
from producer.records import DEFAULT_AGGREGATE_BYTES, MAX_RECORD_BYTES
from producer.simulation import BACKFILL, LIVE, Simulation, SimulationConfig

DEFAULT_SEED = 42
DEFAULT_RATE = 20.0

EPILOG = """\
clock:
  backfill  --days N [--start-date YYYY-MM-DD]: N simulated days from 00:00 UTC, as fast as
            the machine allows; the same --seed gives byte-identical output.
  live      --rate R [--duration S] (the default, at 20 baskets/s): events stamped with the
            wall clock; without --seed a random seed is drawn (and printed) so two live runs
            never share event ids.

examples:
  python -m producer --days 7 --dry-run --output /tmp/week.ndjson --truth-file /tmp/truth.json
  python -m producer --days 1 --bad-rate 0.02 --create-stream
  python -m producer --rate 50 --duration 60 --seed 7
  python -m producer --days 2 --csv-out /tmp/journals --csv-stores S002   # S002 uploads CSV
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producer",
        description="POS store simulator: sales, purchase orders, deliveries, stock counts, promotions and "
        "reference snapshots "
        "to a Kinesis stream (LocalStack by default), with a ground-truth file to score the pipeline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    model = parser.add_argument_group("simulation")
    model.add_argument(
        "--seed", type=int, help=f"random seed (backfill default {DEFAULT_SEED}; live: random)"
    )
    model.add_argument("--stores", type=int, default=20, help="number of stores (default 20)")
    model.add_argument("--products", type=int, default=500, help="number of SKUs (default 500)")
    model.add_argument("--days", type=float, help="backfill this many simulated days (selects backfill)")
    model.add_argument(
        "--start-date",
        type=date.fromisoformat,
        default=date(2024, 1, 1),
        help="backfill start (UTC), default 2024-01-01",
    )
    model.add_argument(
        "--rate", type=float, help=f"live: baskets per second over all stores (default {DEFAULT_RATE:g})"
    )
    model.add_argument(
        "--duration", type=float, help="live: stop after this many seconds (default: until interrupted)"
    )
    model.add_argument(
        "--traffic-scale", type=float, default=1.0, help="backfill: multiply every store's basket rate"
    )
    model.add_argument(
        "--supplier-fault-share",
        type=float,
        default=0.03,
        help="share of purchase orders the supplier delivers short (10-60 %% of each line missing) "
        "or a day late, recorded in the truth (default 0.03)",
    )
    model.add_argument(
        "--promotion-notice-days",
        type=int,
        default=7,
        help="promotions are announced this many days before their first day (default 7)",
    )
    model.add_argument(
        "--bad-rate",
        type=float,
        default=0.0,
        help="share of sale/delivery/count events given one defect, split evenly over the classes "
        "(default 0)",
    )
    model.add_argument(
        "--bad-classes",
        default=",".join(BAD_CLASSES),
        help=f"comma-separated classes to inject (default all: {', '.join(BAD_CLASSES)})",
    )
    model.add_argument(
        "--truth-file",
        type=Path,
        help="write the ground truth (stockouts and causes, orders, supplier faults, promotions, daily "
        "demand and stock per store-SKU, bad events) as JSON here",
    )

    output = parser.add_argument_group("delivery")
    output.add_argument(
        "--dry-run", action="store_true", help="write payloads as NDJSON instead of sending to Kinesis"
    )
    output.add_argument(
        "--output", default="-", help="--dry-run destination file ('-' for stdout, the default)"
    )
    output.add_argument("--stream", help="Kinesis stream (default: KINESIS_STREAM from .env)")
    output.add_argument(
        "--create-stream",
        action="store_true",
        help="create the stream (KINESIS_SHARDS shards) if missing and wait until it is active",
    )
    output.add_argument(
        "--no-aggregate", action="store_true", help="one event per Kinesis record (slow on LocalStack)"
    )
    output.add_argument(
        "--codec",
        choices=CODECS,
        default=ZLIB,
        help="compression of aggregated records (default zlib; see lakehouse.contracts.envelope)",
    )
    output.add_argument(
        "--max-record-kib",
        type=int,
        default=DEFAULT_AGGREGATE_BYTES // 1024,
        help="aggregate record size cap in KiB (default %(default)s, max 1024)",
    )
    output.add_argument(
        "--linger",
        type=float,
        default=0.2,
        help="seconds a partial record may wait before it is sent (default 0.2)",
    )
    output.add_argument(
        "--max-attempts",
        type=int,
        default=10,
        help="PutRecords attempts per record before it counts as failed (default 10)",
    )
    output.add_argument(
        "--csv-out",
        type=Path,
        help="write the sales of --csv-stores as daily POS journals (CSV, one file per store and "
        "store-local day) in this folder instead of streaming them; every other event streams as usual",
    )
    output.add_argument(
        "--csv-stores",
        help="comma-separated store ids whose tills cannot stream (with --csv-out), e.g. S002,S005",
    )
    output.add_argument("--summary-json", type=Path, help="also write the delivery summary as JSON here")
    output.add_argument(
        "--quiet",
        action="store_true",
        help="no progress line and no final report (errors still go to stderr)",
    )
    return parser


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> SimulationConfig:
    if args.days is not None and (args.rate is not None or args.duration is not None):
        parser.error("--days selects backfill; --rate and --duration are for live mode: choose one clock")
    mode = BACKFILL if args.days is not None else LIVE
    seed = args.seed
    if seed is None:
        seed = DEFAULT_SEED if mode == BACKFILL else random.SystemRandom().randrange(2**31)
    classes = tuple(name.strip() for name in args.bad_classes.split(",") if name.strip())
    config = SimulationConfig(
        seed=seed,
        stores=args.stores,
        products=args.products,
        mode=mode,
        start_date=args.start_date,
        days=args.days if args.days is not None else 1.0,
        rate=args.rate if args.rate is not None else DEFAULT_RATE,
        duration_seconds=args.duration,
        traffic_scale=args.traffic_scale,
        bad_rate=args.bad_rate,
        bad_classes=classes,
        supplier_fault_share=args.supplier_fault_share,
        promotion_notice_days=args.promotion_notice_days,
    )
    try:
        config.validate()
    except ValueError as error:
        parser.error(str(error))
    if not 1 <= args.max_record_kib * 1024 <= MAX_RECORD_BYTES:
        parser.error("--max-record-kib must be between 1 and 1024")
    if (args.csv_out is None) != (args.csv_stores is None):
        parser.error("--csv-out and --csv-stores go together: name the folder and the stores")
    return config


def csv_journal(args: argparse.Namespace, simulation: Simulation, parser: argparse.ArgumentParser):
    """The journal of --csv-stores, or None without --csv-out; unknown store ids are an error."""
    if args.csv_out is None:
        return None
    wanted = [name.strip() for name in args.csv_stores.split(",") if name.strip()]
    zones = {store.store_id: ZoneInfo(store.timezone) for store in simulation.catalog.stores}
    unknown = [name for name in wanted if name not in zones]
    if unknown or not wanted:
        parser.error(f"--csv-stores {args.csv_stores!r}: the chain has stores {min(zones)}..{max(zones)}")
    return CsvJournal(args.csv_out, {name: zones[name] for name in wanted})


class Progress:
    """A live status line on a terminal, refreshed at most four times a second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = 0.0
        self.shown = False

    def __call__(self, summary: DeliverySummary) -> None:
        now = time.monotonic()
        if now - self.last < 0.25:
            return
        self.last = now
        self.shown = True
        self.stream.write(
            f"\r{summary.events_in:,} events generated | {summary.events_sent:,} sent "
            f"({summary.events_per_second:,.0f}/s, {summary.records_sent:,} records) | "
            f"{summary.records_retried:,} retried | {summary.records_failed:,} failed   "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from_args(args, parser)
    err = sys.stderr
    say = (lambda message: None) if args.quiet else (lambda message: print(message, file=err, flush=True))
    progress = Progress(err) if not args.quiet and err.isatty() else None

    simulation = Simulation(config)
    journal = csv_journal(args, simulation, parser)
    events = simulation if journal is None else journal.divert(simulation)
    say(f"producer: {config.mode}, seed {config.seed}, {config.stores} stores, {config.products} SKUs")
    output_file = None
    try:
        if args.dry_run:
            if args.output == "-":
                sink = NdjsonSink(sys.stdout.buffer, "stdout", on_progress=progress)
            else:
                output_file = open(args.output, "wb")  # noqa: SIM115 - closed in finally
                sink = NdjsonSink(output_file, args.output, on_progress=progress)
        else:
            settings = load_settings()
            client = aws.client("kinesis", settings, stage="producer")
            stream = args.stream or settings.kinesis_stream
            if args.create_stream:
                ensure_stream(settings, stream)
                say(f"producer: stream {stream} is active")
            sink = KinesisSink(
                settings,
                stream,
                aggregate=not args.no_aggregate,
                codec=args.codec,
                max_record_bytes=args.max_record_kib * 1024,
                linger_seconds=args.linger,
                max_attempts=args.max_attempts,
                client=client,
                on_progress=progress,
            )
        _install_signal_handlers(simulation, sink, say)
        try:
            summary = sink.send(events)
            error = None
        except DeliveryError as failure:
            summary, error = failure.summary, str(failure)
    except ConfigError as failure:
        print(f"producer: configuration error: {failure}", file=err)
        return 1
    finally:
        if output_file is not None:
            output_file.close()
        if progress is not None:
            progress.close()

    if journal is not None:
        say(f"producer: {journal.write().line()} in {args.csv_out}")
    if args.truth_file:
        simulation.truth.write(args.truth_file)
        say(f"producer: ground truth written to {args.truth_file}")
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary.as_dict(), indent=1) + "\n")
    say(f"producer: {summary.line()} in {summary.elapsed_seconds:.1f} s")
    if error is not None:
        print(f"producer: {error}", file=err)
    if summary.records_failed or error is not None or summary.events_sent != summary.events_in:
        print(
            f"producer: {summary.events_in - summary.events_sent:,} of {summary.events_in:,} events were not "
            f"delivered ({dict(summary.errors)}); first failed ids: {summary.failed_event_ids[:5]}",
            file=err,
        )
        return 1
    return 0


def _install_signal_handlers(simulation: Simulation, sink: KinesisSink | NdjsonSink, say) -> None:
    """First signal: stop generating and flush. Second: stop taking events. Third: default (die)."""
    received = 0

    def handle(signum: int, frame: object) -> None:
        nonlocal received
        received += 1
        if received == 1:
            say(f"\nproducer: {signal.Signals(signum).name}: finishing, flushing what was generated")
            simulation.stop()
        else:
            say(f"\nproducer: {signal.Signals(signum).name} again: sending only what is queued")
            sink.stop()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
