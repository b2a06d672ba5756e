"""Silver to gold: read silver, run the stock model in Spark, load gold in one transaction, publish alerts.

What one run does:

1. reads the silver tables (`silver_contract`); the data clock `as_of` is the newest event;
   after the first load only the rows silver stored since the last one (by `loaded_at`, the
   load's watermark) are scanned for it, so the cost does not grow with history;
2. picks the window of event days to (re)read: everything on the first run (or with
   `full=True`, or when silver has no `loaded_at` to keep a watermark with), else from
   `GOLD_LATE_DAYS` days before the last load's `as_of`, or from the earliest event day silver
   stored since the last load, so late events are picked up however late; loading the same
   window twice changes nothing;
3. computes, in Spark, the daily stock positions of the window (anchored on gold's closing
   stock of the day before, read from gold over JDBC), the demand statistics of the complete
   days before `as_of` (gold's snapshots before the window, this run's positions within it),
   forecasts, replenishment figures and risk;
4. loads dimensions, sales facts, the daily aggregate, snapshots, positions, forecasts and the
   alert lifecycle into gold in one transaction (`load.load_gold`);
5. publishes new and escalated alerts to SNS (`alerts.publish_pending`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Settings
from spark_jobs.gold import alerts, load
from spark_jobs.gold import stock_model as model
from spark_jobs.gold.config import GoldConfig, load_gold_config
from spark_jobs.gold.dimensions import latest_stores, product_versions
from spark_jobs.gold.silver_contract import (
    DELIVERIES,
    PRODUCTS,
    SALES_LINES,
    STOCK_COUNTS,
    STORES,
    read_silver_table,
)

_KEY = ["store_id", "sku"]


def _epoch_to_utc(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class SilverExtent:
    """What silver's stock events span: newest event time, oldest event day, newest loaded_at."""

    newest_event: datetime | None
    oldest_day: date | None
    newest_loaded: datetime | None


def _stock_events(frames: list[DataFrame]) -> DataFrame:
    events = frames[0].select("event_time", "loaded_at")
    for frame in frames[1:]:
        events = events.unionByName(frame.select("event_time", "loaded_at"))
    return events


def silver_extent(frames: list[DataFrame], loaded_after: datetime | None = None) -> SilverExtent:
    """One pass over the event and load times of sales, deliveries and counts (UTC).

    With `loaded_after`, only the rows silver stored after it: Delta then skips every file whose
    `loaded_at` statistics end before it, so an incremental run reads the files of the last few
    silver runs, not the whole history it used to scan each time.
    """
    events = _stock_events(frames)
    if loaded_after is not None:
        events = events.where(F.col("loaded_at") > F.lit(loaded_after))
    row = events.agg(
        F.max(F.col("event_time").cast("double")).alias("newest"),
        F.min(F.to_date("event_time")).alias("oldest"),
        F.max(F.col("loaded_at").cast("double")).alias("loaded"),
    ).first()
    return SilverExtent(_epoch_to_utc(row["newest"]), row["oldest"], _epoch_to_utc(row["loaded"]))


def window_after(previous: load.PreviousLoad, new: SilverExtent, late_days: int) -> tuple[datetime, date]:
    """(as_of, first event day to reread) of an incremental load, from what silver stored since `previous`.

    The data clock moves on to the newest new event. The window starts `late_days` before the
    previous load's data day, or earlier, at the day of the oldest new event however late it
    came. It does not start before the previous window unless a new event does: the days
    before it were either read already or held no silver data (a first load starts at silver's
    oldest day).
    """
    last = previous.as_of.astimezone(UTC)
    as_of = last if new.newest_event is None else max(last, new.newest_event)
    start = last.date() - timedelta(days=late_days)
    floor = previous.window_start
    if new.oldest_day is not None:
        start, floor = min(start, new.oldest_day), min(floor, new.oldest_day)
    return as_of, max(start, floor)


def _since(frame: DataFrame, first_day: date) -> DataFrame:
    return frame.where(F.to_date("event_time") >= F.lit(first_day))


def history_frame(
    gold_snapshots: DataFrame, positions: DataFrame, first_day: date, as_of_day: date
) -> DataFrame:
    """(store_id, sku, day, sold, in_stock) for each complete day from `first_day` to before `as_of_day`.

    Days before this run's window come from gold's snapshots, the window's from this run's
    positions; both are dense from a store-SKU's first count on. A day is out of stock when it
    ended with nothing on the shelf.
    """
    days = gold_snapshots.unionByName(positions.select(*_KEY, "day", "sold", "closing"))
    return days.where((F.col("day") >= F.lit(first_day)) & (F.col("day") < F.lit(as_of_day))).select(
        *_KEY, "day", "sold", (F.col("closing") > 0).alias("in_stock")
    )


def model_frames(
    config: GoldConfig,
    gold_snapshots: DataFrame,
    positions: DataFrame,
    products: DataFrame,
    as_of_day: date,
) -> tuple[DataFrame, DataFrame]:
    """(replenishment per store-SKU with its predicted stockout date, forecasts) as of `as_of_day`."""
    history_start = as_of_day - timedelta(days=config.demand_history_days)
    history = history_frame(gold_snapshots, positions, history_start, as_of_day)
    stats = model.demand_stats_frame(history, as_of_day, config.ewma_alpha, config.demand_history_days)
    stock = positions.where(F.col("day") == F.lit(as_of_day)).select(
        *_KEY, F.col("closing").alias("on_hand"), F.col("sold").alias("sold_today")
    )
    lead_times = products.where(F.col("valid_to").isNull()).select("sku", "lead_time_days")
    replenishment = model.replenishment_frame(
        stats,
        stock,
        lead_times,
        z=model.z_score(config.service_level),
        review_days=config.review_period_days,
        default_lead_time_days=config.default_lead_time_days,
        overstock_cover_days=config.overstock_cover_days,
    )
    forecasts = model.forecast_frame(replenishment, as_of_day, config.forecast_days)
    stockouts = model.stockout_dates_frame(forecasts, stock)
    return replenishment.join(stockouts, _KEY, "left"), forecasts


def staging_frames(
    config: GoldConfig,
    sales: DataFrame,
    stores: DataFrame,
    products: DataFrame,
    positions: DataFrame,
    replenishment: DataFrame,
    forecasts: DataFrame,
) -> dict[str, DataFrame]:
    """The DataFrame of each staging table (see load.STAGING), columns named as there."""
    sales_rows = sales.select(
        "event_id",
        "line_number",
        "basket_id",
        "store_id",
        "sku",
        F.col("event_time").alias("sold_at"),
        "quantity",
        "unit_price",
        "discount",
        "payment_method",
        "loyalty_id",
    )
    figures = replenishment.select(*_KEY, "safety_stock", "reorder_point", "level")
    snapshot_rows = positions.join(figures, _KEY, "left").select(
        *_KEY,
        F.col("day").alias("calendar_date"),
        F.col("opening").alias("opening_on_hand"),
        "sold",
        "received",
        "count_adjustment",
        F.col("closing").alias("closing_on_hand"),
        "safety_stock",
        "reorder_point",
        model.risk_column(
            F.col("closing"),
            F.coalesce(F.col("reorder_point"), F.lit(0.0)),
            model.cover_column(F.col("closing"), F.col("level")),
            config.overstock_cover_days,
        ).alias("risk"),
    )
    position_rows = replenishment.select(
        *_KEY,
        "on_hand",
        F.col("mean_short").alias("mean_7d"),
        F.col("mean_long").alias("mean_28d"),
        F.col("level").alias("ewma"),
        F.col("std").alias("demand_std"),
        F.col("days").alias("demand_days"),
        "dow_index",
        F.lit(config.service_level).alias("service_level"),
        "lead_time_days",
        "safety_stock",
        "reorder_point",
        "order_up_to_level",
        "days_of_cover",
        "predicted_stockout_date",
        "recommended_order_qty",
        "risk",
    )
    return {
        "stg_dim_store": stores,
        "stg_dim_product": products,
        "stg_fact_sales": sales_rows,
        "stg_inventory_snapshot": snapshot_rows,
        "stg_stock_position": position_rows,
        "stg_stock_forecast": forecasts.select(*_KEY, "forecast_date", "forecast_units"),
    }


def run_silver_to_gold(
    spark: SparkSession,
    settings: Settings,
    silver_bucket: str | None = None,
    *,
    schema: str | None = None,
    full: bool = False,
    publish: bool = True,
    config: GoldConfig | None = None,
) -> dict:
    """Build or refresh gold from silver; returns a summary (mode, as_of, row counts, alerts, seconds).

    The gold schema must be migrated (`python -m spark_jobs.gold.migrate`). `full=True` rereads
    all of silver instead of the window after the last load.
    """
    began, started_at = time.monotonic(), datetime.now(UTC)
    config = (config or load_gold_config()).with_schema(schema)
    bucket = silver_bucket or settings.silver_bucket
    sales = read_silver_table(spark, bucket, SALES_LINES)
    deliveries = read_silver_table(spark, bucket, DELIVERIES)
    counts = read_silver_table(spark, bucket, STOCK_COUNTS)
    previous = None if full else load.last_load(settings, config.schema)
    if previous is not None and previous.silver_loaded_through is None:
        previous = None  # silver rows without loaded_at give no watermark to go on from: rebuild
    extent = silver_extent([sales, deliveries, counts], previous.silver_loaded_through if previous else None)
    if previous is not None:
        as_of, window_start = window_after(previous, extent, config.late_days)
        loaded_through = extent.newest_loaded or previous.silver_loaded_through
    elif extent.newest_event is None:
        return {"status": "silver has no sales, deliveries or stock counts yet", "schema": config.schema}
    else:
        as_of, window_start, loaded_through = extent.newest_event, extent.oldest_day, extent.newest_loaded
    as_of_day = as_of.date()
    history_start = as_of_day - timedelta(days=config.demand_history_days)

    window_sales = _since(
        sales.where(F.col("event_date") >= F.lit(window_start - timedelta(days=1))), window_start
    )
    window_sales = window_sales.cache()
    if previous is None:
        gold_snapshots = spark.createDataFrame(
            [], "store_id string, sku string, day date, sold int, closing int"
        )
    else:
        gold_snapshots = load.read_gold_snapshots(
            spark, settings, config.schema, min(history_start, window_start), window_start - timedelta(days=1)
        ).cache()
    anchors = gold_snapshots.where(F.col("day") == F.lit(window_start - timedelta(days=1))).select(
        *_KEY, F.col("closing").alias("anchor")
    )
    moves = model.movements(window_sales, _since(deliveries, window_start), _since(counts, window_start))
    daily = model.daily_movements(moves)
    positions = model.daily_positions_frame(daily, anchors, window_start, as_of_day).cache()
    products = product_versions(read_silver_table(spark, bucket, PRODUCTS)).cache()
    replenishment, forecasts = model_frames(config, gold_snapshots, positions, products, as_of_day)
    replenishment = replenishment.cache()
    stores = latest_stores(read_silver_table(spark, bucket, STORES))
    frames = staging_frames(config, window_sales, stores, products, positions, replenishment, forecasts)
    run = load.LoadRun(
        as_of=as_of,
        window_start=window_start,
        mode="incremental" if previous else "full",
        started_at=started_at,
        overstock_cover_days=config.overstock_cover_days,
        silver_loaded_through=loaded_through,
    )
    try:
        result = load.load_gold(
            settings,
            config.schema,
            {table: load.csv_lines(frame, table) for table, frame in frames.items()},
            run,
        )
    finally:
        for cached in (window_sales, gold_snapshots, positions, products, replenishment):
            cached.unpersist()
    published = alerts.publish_pending(settings, config.schema) if publish else 0
    return {
        "schema": config.schema,
        "mode": run.mode,
        "as_of": as_of.isoformat(),
        "window_start": window_start.isoformat(),
        "run_id": result["run_id"],
        "rows": result["rows"],
        "alerts": {**result["alerts"], "published": published},
        "seconds": round(time.monotonic() - began, 1),
    }
