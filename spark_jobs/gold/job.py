"""Silver to gold: read silver, run the stock model in Spark, load gold in one transaction, publish alerts.

What one run does, one function each:

1. `plan_window` reads the silver tables (`silver_contract`) as far as silver's completed runs
   go (`completed_through`: a run commits its tables one by one); the data clock `as_of` is the
   newest event; after the first load only the rows silver stored since the last one (by
   `loaded_at`, the load's watermark) are scanned for it, so the cost does not grow with
   history. It picks the window of event days to (re)read: everything on the first run (or
   with `full=True`, or when silver has no `loaded_at` to keep a watermark with), else from
   `GOLD_LATE_DAYS` days before the last load's `as_of`, or from the earliest event day silver
   stored since the last load, so late events are picked up however late; loading the same
   window twice changes nothing;
2. `build_frames` computes, in Spark, the daily stock positions of the window (anchored on
   gold's closing stock of the day before, read from gold over JDBC), the demand statistics of
   the complete days before `as_of` (gold's snapshots before the window, this run's positions
   within it), forecasts, replenishment figures and risk (`stock_frames`);
3. `load_frames` loads dimensions, sales facts, the daily aggregate, snapshots, positions,
   forecasts and the alert lifecycle into gold in one transaction (`load.load_gold`);
4. `alerts.publish_pending` publishes new and escalated alerts to SNS.

The run's summary is a `GoldRun` (or `NothingToLoad` while silver is empty).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import GoldSettings, Settings
from lakehouse.locks import own_stage
from spark_jobs.gold import alerts, fit_tracking, load
from spark_jobs.gold import stock_frames as frames
from spark_jobs.gold import stock_model as model
from spark_jobs.gold.dimensions import latest_stores, product_versions
from spark_jobs.gold.silver_contract import (
    BRONZE_LOG,
    DELIVERIES,
    PRODUCTS,
    PROMOTIONS,
    PURCHASE_ORDERS,
    SALES_LINES,
    STOCK_COUNTS,
    STORES,
    read_silver_table,
    silver_table_path,
)
from spark_jobs.gold.staging import (
    DIM_PRODUCT,
    DIM_STORE,
    FACT_SALES,
    INVENTORY_SNAPSHOT,
    OPEN_ORDERS,
    PROMOTION_CALENDAR,
    STOCK_FORECAST,
    STOCK_POSITION,
    StagingTable,
)

_KEY = ["store_id", "sku"]
# `completed_through` of a silver whose log holds no completed run: nothing stamped counts yet.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How far back purchase orders are read for the open ones: longer than any lead time and delay.
ORDER_LOOKBACK_DAYS = 35


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


def today_share(as_of: datetime) -> float:
    """The share of as_of's (UTC) day still to come: what is left of today's forecast to sell."""
    midnight = datetime.combine(as_of.astimezone(UTC).date(), datetime.min.time(), UTC)
    return 1 - (as_of - midnight).total_seconds() / 86_400


def model_frames(
    config: GoldSettings,
    gold_snapshots: DataFrame,
    positions: DataFrame,
    products: DataFrame,
    as_of: datetime,
    calendar: DataFrame,
    order_lines: DataFrame,
) -> tuple[DataFrame, DataFrame]:
    """(replenishment and risk per store-SKU, forecasts) as of `as_of`, as `stock_model.assess` chains them.

    calendar is the promotion calendar (`promotion_calendar_frame`), order_lines the purchase
    order lines (`order_lines_frame`).
    """
    as_of_day = as_of.astimezone(UTC).date()
    level_share = model.level_variance_share(config.ewma_alpha)
    history_start = as_of_day - timedelta(days=config.demand_history_days)
    history = frames.history_with_promotions(
        history_frame(gold_snapshots, positions, history_start, as_of_day), calendar
    )
    stats = frames.demand_stats_frame(history, as_of_day, config.ewma_alpha, config.demand_history_days)
    current = products.where(F.col("valid_to").isNull())
    priors = frames.category_priors_frame(stats, current.select("sku", "category"), level_share)
    shrunk = frames.shrunk_columns(level_share)
    stats = (
        stats.join(current.select("sku", "category"), "sku", "left")
        .join(priors, "category", "left")
        .withColumns(shrunk)
        .drop("category", "prior_elasticity", "prior_dispersion")
    )
    on_order = order_lines.groupBy(*_KEY).agg(
        F.sum("on_order").cast("int").alias("on_order"),
        F.min(F.when(F.col("on_order") > 0, F.col("expected_at"))).alias("next_receipt_at"),
    )
    stock = (
        positions.where(F.col("day") == F.lit(as_of_day))
        .select(*_KEY, F.col("closing").alias("on_hand"), F.col("sold").alias("sold_today"))
        .join(on_order, _KEY, "left")
        .fillna(0, ["on_order"])
    )
    replenishment = frames.replenishment_frame(
        stats,
        stock,
        current.select("sku", "lead_time_days"),
        z=model.z_score(config.service_level),
        review_days=config.review_period_days,
        default_lead_time_days=config.default_lead_time_days,
        overstock_cover_days=config.overstock_cover_days,
    ).fillna(
        {
            "elasticity": model.DEFAULT_ELASTICITY,
            "dispersion": model.DEFAULT_DISPERSION,
            "plain_days": 0,
        }
    )
    forecasts = frames.forecast_frame(replenishment, calendar, as_of_day, config.forecast_days)
    stockouts = frames.stockout_dates_frame(forecasts.where(F.col("offset") < config.forecast_days), stock)
    risk = frames.risk_frame(
        forecasts,
        replenishment.select(*_KEY, "on_hand", "sold_today", "lead_time_days", "dispersion", "plain_days"),
        frames.receipts_frame(order_lines, as_of_day),
        as_of_day=as_of_day,
        today_share=today_share(as_of),
        level_share=level_share,
        forecast_days=config.forecast_days,
    )
    shown = forecasts.where(F.col("offset") < config.forecast_days)
    return replenishment.join(stockouts, _KEY, "left").join(risk, _KEY, "left"), shown


def _staged(frame: DataFrame, table: StagingTable, **gold_names: str) -> DataFrame:
    """`frame` as staging `table`: columns renamed (model name=gold name), selected in its order."""
    return frame.withColumnsRenamed(gold_names).select(*table.column_names)


def staging_frames(
    config: GoldSettings,
    sales: DataFrame,
    stores: DataFrame,
    products: DataFrame,
    positions: DataFrame,
    replenishment: DataFrame,
    forecasts: DataFrame,
    order_lines: DataFrame,
    calendar: DataFrame,
) -> dict[str, DataFrame]:
    """The DataFrame of each staging table (staging.STAGING), its columns named and ordered as there."""
    figures = replenishment.select(*_KEY, "safety_stock", "reorder_point", "level")
    snapshots = positions.join(figures, _KEY, "left").withColumn(
        "risk",
        frames.risk_column(
            F.col("closing"),
            F.coalesce(F.col("reorder_point"), F.lit(0.0)),
            frames.cover_column(F.col("closing"), F.col("level")),
            config.overstock_cover_days,
        ),
    )
    policy = replenishment.withColumn("service_level", F.lit(config.service_level))
    return {
        DIM_STORE.name: _staged(stores, DIM_STORE),
        DIM_PRODUCT.name: _staged(products, DIM_PRODUCT),
        FACT_SALES.name: _staged(sales, FACT_SALES, event_time="sold_at"),
        INVENTORY_SNAPSHOT.name: _staged(
            snapshots,
            INVENTORY_SNAPSHOT,
            day="calendar_date",
            opening="opening_on_hand",
            closing="closing_on_hand",
        ),
        STOCK_POSITION.name: _staged(
            policy,
            STOCK_POSITION,
            mean_short="mean_7d",
            mean_long="mean_28d",
            level="ewma",
            std="demand_std",
            days="demand_days",
            elasticity="promotion_elasticity",
            dispersion="demand_dispersion",
            stockout_probability="stockout_probability_raw",  # the load calibrates it (calibration.py)
        ),
        STOCK_FORECAST.name: _staged(forecasts, STOCK_FORECAST),
        OPEN_ORDERS.name: _staged(order_lines.where(F.col("on_order") > 0), OPEN_ORDERS),
        PROMOTION_CALENDAR.name: _staged(calendar, PROMOTION_CALENDAR, day="calendar_date"),
    }


@dataclass(frozen=True)
class SilverFrames:
    """The silver tables a run reads; lazy, so only what the run uses is scanned."""

    sales: DataFrame
    deliveries: DataFrame
    counts: DataFrame
    products: DataFrame
    stores: DataFrame
    purchase_orders: DataFrame
    promotions: DataFrame


def completed_through(spark: SparkSession, bucket: str) -> datetime | None:
    """When silver's newest completed run began: every silver row loaded at or before it is final.

    The rule. A silver run stamps every row it writes, in every table, with the time it began
    (`loaded_at`), commits its tables one by one, and writes its bronze log records last, stamped
    with the same time (`processed_at`). Runs hold silver's stage one at a time (lakehouse/locks.py),
    so every run that began at or before the newest logged time T has ended, and no row with a
    `loaded_at` up to T will ever be added. A row loaded after T belongs to a run still writing,
    whose other tables may not be committed yet, or to a run cut short before its log (a crash):
    its rows stay in silver, and the rerun of its objects matches them instead of inserting them
    again. Gold leaves such rows out until a completed run's log passes them; the rerun began
    after the cut-short run, so its log does, and they are read then, with the rerun's own rows.

    EPOCH when silver has a log but no completed run yet; None when silver has no log at all (a
    silver made without its job, as test fixtures and benchmarks make): then every row counts.
    """
    from delta.tables import DeltaTable

    path = silver_table_path(bucket, BRONZE_LOG)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    log = read_silver_table(spark, bucket, BRONZE_LOG)
    newest = log.agg(F.max(F.col("processed_at").cast("double")).alias("newest")).first()["newest"]
    return _epoch_to_utc(newest) if newest is not None else EPOCH


def _through(frame: DataFrame, through: datetime | None) -> DataFrame:
    """The rows of completed silver runs (`completed_through`); rows without loaded_at predate it."""
    if through is None:
        return frame
    return frame.where(F.col("loaded_at").isNull() | (F.col("loaded_at") <= F.lit(through)))


def read_silver(spark: SparkSession, bucket: str, through: datetime | None = None) -> SilverFrames:
    """Silver's tables as gold reads them: the event tables up to `through` (`completed_through`).

    Stores and products are read whole: a run's reference rows are final before its events are.
    """
    return SilverFrames(
        sales=_through(read_silver_table(spark, bucket, SALES_LINES), through),
        deliveries=_through(read_silver_table(spark, bucket, DELIVERIES), through),
        counts=_through(read_silver_table(spark, bucket, STOCK_COUNTS), through),
        products=read_silver_table(spark, bucket, PRODUCTS),
        stores=read_silver_table(spark, bucket, STORES),
        purchase_orders=_through(read_silver_table(spark, bucket, PURCHASE_ORDERS), through),
        promotions=_through(read_silver_table(spark, bucket, PROMOTIONS), through),
    )


def plan_window(
    settings: Settings, config: GoldSettings, silver: SilverFrames, *, full: bool, started_at: datetime
) -> load.LoadRun | None:
    """The load this run makes: its mode, data time `as_of` and window; None when silver is empty.

    Incremental after a load that kept a silver watermark (`window_after`), else full: from
    silver's oldest event day to its newest event.
    """
    previous = None if full else load.last_load(settings, config.schema)
    if previous is not None and previous.silver_loaded_through is None:
        previous = None  # silver rows without loaded_at give no watermark to go on from: rebuild
    stock_events = [silver.sales, silver.deliveries, silver.counts]
    extent = silver_extent(stock_events, previous.silver_loaded_through if previous else None)
    if previous is not None:
        as_of, window_start = window_after(previous, extent, config.late_days)
        mode, loaded_through = "incremental", extent.newest_loaded or previous.silver_loaded_through
    elif extent.newest_event is None:
        return None
    else:
        as_of, window_start, loaded_through = extent.newest_event, extent.oldest_day, extent.newest_loaded
        mode = "full"
    return load.LoadRun(
        as_of=as_of,
        window_start=window_start,
        mode=mode,
        started_at=started_at,
        overstock_cover_days=config.overstock_cover_days,
        silver_loaded_through=loaded_through,
        alert_min_probability=config.alert_min_probability,
        alert_close_probability=config.alert_close_probability,
    )


@dataclass(frozen=True)
class GoldFrames:
    """The staging DataFrames of a load, and the cached frames behind them to release after it."""

    staged: dict[str, DataFrame]
    cached: tuple[DataFrame, ...]

    def release(self) -> None:
        for frame in self.cached:
            frame.unpersist()


def build_frames(
    spark: SparkSession, settings: Settings, config: GoldSettings, silver: SilverFrames, run: load.LoadRun
) -> GoldFrames:
    """Positions of the window, the stock model as of `run.as_of`, and every staging frame.

    A full load starts from no gold history; an incremental one anchors the window on gold's
    closing stock of the day before and takes the demand history before the window from gold.
    """
    as_of_day, window_start = run.as_of.date(), run.window_start
    history_start = as_of_day - timedelta(days=config.demand_history_days)
    window_sales = _since(
        silver.sales.where(F.col("event_date") >= F.lit(window_start - timedelta(days=1))), window_start
    ).cache()
    if run.mode == "full":
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
    moves = frames.movements(
        window_sales, _since(silver.deliveries, window_start), _since(silver.counts, window_start)
    )
    positions = frames.daily_positions_frame(
        frames.daily_movements(moves), anchors, window_start, as_of_day
    ).cache()
    products = product_versions(silver.products).cache()
    stores = latest_stores(silver.stores)
    horizon_end = as_of_day + timedelta(days=max(config.forecast_days, 31))
    calendar = frames.promotion_calendar_frame(
        silver.promotions, stores, min(history_start, window_start), horizon_end, run.as_of
    ).cache()
    orders_since = as_of_day - timedelta(days=ORDER_LOOKBACK_DAYS)
    order_lines = frames.order_lines_frame(
        _since(silver.purchase_orders, orders_since), _since(silver.deliveries, orders_since), run.as_of
    ).cache()
    replenishment, forecasts = model_frames(
        config, gold_snapshots, positions, products, run.as_of, calendar, order_lines
    )
    last_receipts = (
        moves.where(F.col("kind") == "delivery").groupBy(*_KEY).agg(F.max("at").alias("last_receipt_at"))
    )
    replenishment = replenishment.join(last_receipts, _KEY, "left").cache()
    staged = staging_frames(
        config,
        load.spread(window_sales, window_sales.count()),
        stores,
        products,
        positions,
        replenishment,
        forecasts,
        order_lines,
        calendar,
    )
    cached = (window_sales, gold_snapshots, positions, products, replenishment, calendar, order_lines)
    return GoldFrames(staged, cached)


def load_frames(settings: Settings, schema: str, run: load.LoadRun, built: GoldFrames) -> load.LoadResult:
    """Stream the staging frames into gold in one transaction; the cached frames are released after."""
    lines = {table: load.csv_lines(frame, table) for table, frame in built.staged.items()}
    try:
        return load.load_gold(settings, schema, lines, run)
    finally:
        built.release()


@dataclass(frozen=True)
class GoldRun:
    """What a run of silver_to_gold loaded (`as_dict` is the JSON-able form Mage passes on)."""

    schema: str
    mode: str  # full or incremental
    as_of: datetime
    window_start: date
    run_id: int
    rows: load.RowCounts
    alerts: alerts.AlertCounts
    published: int  # alerts published to SNS by this run (none when it leaves that to Mage)
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self) | {"as_of": self.as_of.isoformat(), "window_start": self.window_start.isoformat()}


@dataclass(frozen=True)
class NothingToLoad:
    """A run that found no sales, deliveries or stock counts in silver yet."""

    schema: str
    status: str
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def run_silver_to_gold(
    spark: SparkSession,
    settings: Settings,
    silver_bucket: str | None = None,
    *,
    schema: str | None = None,
    full: bool = False,
    publish: bool = True,
    config: GoldSettings | None = None,
) -> GoldRun | NothingToLoad:
    """Build or refresh gold from silver: plan the window, build the frames, load, publish.

    The gold schema must be migrated (`python -m spark_jobs.gold.migrate`). `full=True` rereads
    all of silver instead of the window after the last load.
    """
    began, started_at = time.monotonic(), datetime.now(UTC)
    config = (config or settings.gold).with_schema(schema)
    with own_stage(settings, load.GOLD_STAGE, config.schema):  # the load proves it (lakehouse/locks.py)
        bucket = silver_bucket or settings.silver_bucket
        silver = read_silver(spark, bucket, completed_through(spark, bucket))
        run = plan_window(settings, config, silver, full=full, started_at=started_at)
        if run is None:
            status = "silver has no sales, deliveries or stock counts yet"
            return NothingToLoad(config.schema, status, round(time.monotonic() - began, 1))
        built = build_frames(spark, settings, config, silver, run)
        result = load_frames(settings, config.schema, run, built)
        fit_tracking.spool_fit(settings, config, run, result)  # MLflow record, never fails the load
        published = alerts.publish_pending(settings, config.schema) if publish else 0
    return GoldRun(
        schema=config.schema,
        mode=run.mode,
        as_of=run.as_of,
        window_start=run.window_start,
        run_id=result.run_id,
        rows=result.rows,
        alerts=result.alerts,
        published=published,
        seconds=round(time.monotonic() - began, 1),
    )
