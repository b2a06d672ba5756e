"""The stock model in Spark: the formulas of `stock_model`, over every store-SKU at once.

Each function here is the DataFrame version of a reference function in `stock_model` (named in
its docstring), built from columns so one job computes thousands of store-SKUs in a few
aggregations. They live apart from the references so those stay plain Python; integration tests
(tests/integration/test_gold_job.py) hold the two to the same numbers row for row.
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.gold.stock_model import DOW_PRIOR_DAYS, LONG_WINDOW_DAYS, SHORT_WINDOW_DAYS

_KEY = ["store_id", "sku"]


def iso_weekday(day: Column) -> Column:
    """0 = Monday ... 6 = Sunday, as `date.weekday()`; Spark's dayofweek starts on Sunday at 1."""
    return (F.dayofweek(day) + 5) % 7


def movements(sales: DataFrame, deliveries: DataFrame, counts: DataFrame) -> DataFrame:
    """(store_id, sku, at, kind, quantity) of every sale line, delivery line and count line."""
    return (
        sales.select(*_KEY, F.col("event_time").alias("at"), F.lit("sale").alias("kind"), "quantity")
        .unionByName(
            deliveries.select(
                *_KEY, F.col("event_time").alias("at"), F.lit("delivery").alias("kind"), "quantity"
            )
        )
        .unionByName(
            counts.select(
                *_KEY,
                F.col("event_time").alias("at"),
                F.lit("count").alias("kind"),
                F.col("counted_quantity").alias("quantity"),
            )
        )
    )


def daily_movements(moves: DataFrame) -> DataFrame:
    """Per store-SKU-day: units sold and received, the day's last count, and what moved after it."""
    day_window = Window.partitionBy(*_KEY, "day")
    with_count = moves.withColumn("day", F.to_date("at")).withColumn(
        "last_count_at", F.max(F.when(F.col("kind") == "count", F.col("at"))).over(day_window)
    )
    after = F.col("last_count_at").isNull() | (F.col("at") > F.col("last_count_at"))
    is_sale, is_delivery = F.col("kind") == "sale", F.col("kind") == "delivery"
    return with_count.groupBy(*_KEY, "day").agg(
        F.sum(F.when(is_sale, F.col("quantity")).otherwise(0)).cast("int").alias("sold"),
        F.sum(F.when(is_delivery, F.col("quantity")).otherwise(0)).cast("int").alias("received"),
        F.max_by(
            F.when(F.col("kind") == "count", F.col("quantity")),
            F.when(F.col("kind") == "count", F.col("at")),
        ).alias("count_quantity"),
        F.sum(F.when(is_sale & after, F.col("quantity")).otherwise(0)).cast("int").alias("sold_after_count"),
        F.sum(F.when(is_delivery & after, F.col("quantity")).otherwise(0))
        .cast("int")
        .alias("received_after_count"),
    )


def daily_positions_frame(daily: DataFrame, anchors: DataFrame, first_day: date, last_day: date) -> DataFrame:
    """Spark version of `daily_positions` for every store-SKU.

    `daily` comes from `daily_movements`; `anchors` holds (store_id, sku, anchor): the closing
    stock of the day before `first_day`. Returns (store_id, sku, day, opening, sold, received,
    count_adjustment, closing) for each day from the anchor or the first count to `last_day`.
    """
    daily = daily.where((F.col("day") >= F.lit(first_day)) & (F.col("day") <= F.lit(last_day)))
    first_count = (
        daily.where(F.col("count_quantity").isNotNull())
        .groupBy(*_KEY)
        .agg(F.min("day").alias("first_count_day"))
    )
    keys = (
        daily.select(*_KEY)
        .distinct()
        .join(anchors, _KEY, "full")
        .join(first_count, _KEY, "left")
        .withColumn(
            "start", F.when(F.col("anchor").isNotNull(), F.lit(first_day)).otherwise(F.col("first_count_day"))
        )
        .where(F.col("start").isNotNull())
    )
    spine = keys.select(
        *_KEY, "anchor", F.explode(F.sequence(F.col("start"), F.lit(last_day))).alias("day")
    ).join(daily, [*_KEY, "day"], "left")
    spine = spine.fillna(0, ["sold", "received", "sold_after_count", "received_after_count"])

    by_day = Window.partitionBy(*_KEY).orderBy("day")
    has_count = F.col("count_quantity").isNotNull()
    segment = F.sum(has_count.cast("int")).over(by_day.rowsBetween(Window.unboundedPreceding, 0))
    spine = spine.withColumn("segment", segment)
    in_segment = Window.partitionBy(*_KEY, "segment").orderBy("day")
    base = F.when(has_count, F.col("count_quantity")).when(F.col("segment") == 0, F.col("anchor"))
    net = F.when(has_count, F.col("received_after_count") - F.col("sold_after_count")).otherwise(
        F.col("received") - F.col("sold")
    )
    closing = F.first(base).over(in_segment) + F.sum(net).over(
        in_segment.rowsBetween(Window.unboundedPreceding, 0)
    )
    positioned = spine.withColumn("closing", closing.cast("int"))
    previous = F.lag("closing").over(by_day)
    opening = F.coalesce(
        previous,
        F.when(F.col("day") == F.lit(first_day), F.col("anchor")),
        F.col("closing") - F.col("received") + F.col("sold"),
    )
    return positioned.withColumn("opening", opening.cast("int")).select(
        *_KEY,
        "day",
        "opening",
        "sold",
        "received",
        (F.col("closing") - F.col("opening") - F.col("received") + F.col("sold")).alias("count_adjustment"),
        "closing",
    )


def demand_stats_frame(history: DataFrame, as_of_day: date, alpha: float, history_days: int) -> DataFrame:
    """Spark version of `demand_stats`: history is (store_id, sku, day, sold, in_stock).

    The EWMA is written in closed form so it is one aggregation: with n kept days, newest
    first at k = 0, day k weighs alpha * (1 - alpha)^k, and the oldest (1 - alpha)^(n - 1),
    which is exactly what the recursion started at the first value gives.
    """
    first = as_of_day - timedelta(days=history_days)
    kept = history.where(
        F.col("in_stock") & (F.col("day") >= F.lit(first)) & (F.col("day") < F.lit(as_of_day))
    ).withColumn("weekday", iso_weekday(F.col("day")))
    key_window = Window.partitionBy(*_KEY)
    kept = kept.withColumn("mean_all", F.avg("sold").over(key_window)).withColumn(
        "n", F.count("*").over(key_window)
    )
    weekday_window = Window.partitionBy(*_KEY, "weekday")
    index = F.when(F.col("mean_all") == 0, F.lit(1.0)).otherwise(
        (F.sum("sold").over(weekday_window) + DOW_PRIOR_DAYS * F.col("mean_all"))
        / ((F.count("*").over(weekday_window) + DOW_PRIOR_DAYS) * F.col("mean_all"))
    )
    kept = kept.withColumn("index", index)
    age = F.row_number().over(Window.partitionBy(*_KEY).orderBy(F.col("day").desc())) - 1
    kept = kept.withColumn("age", age)
    weight = F.when(F.col("age") == F.col("n") - 1, F.pow(F.lit(1 - alpha), F.col("n") - 1)).otherwise(
        F.lit(alpha) * F.pow(F.lit(1 - alpha), F.col("age"))
    )
    short_days = F.col("day") >= F.lit(as_of_day - timedelta(days=SHORT_WINDOW_DAYS))
    long_days = F.col("day") >= F.lit(as_of_day - timedelta(days=LONG_WINDOW_DAYS))
    stats = kept.groupBy(*_KEY).agg(
        F.sum(weight * F.col("sold") / F.col("index")).alias("level"),
        F.coalesce(F.avg(F.when(short_days, F.col("sold"))), F.lit(0.0)).alias("mean_short"),
        F.coalesce(F.avg(F.when(long_days, F.col("sold"))), F.lit(0.0)).alias("mean_long"),
        F.coalesce(F.stddev_samp(F.when(long_days, F.col("sold"))), F.lit(0.0)).alias("std"),
        F.count("*").cast("int").alias("days"),
        F.array(
            *[F.coalesce(F.max(F.when(F.col("weekday") == w, F.col("index"))), F.lit(1.0)) for w in range(7)]
        ).alias("dow_index"),
    )
    return stats


def forecast_frame(stats: DataFrame, first_day: date, days: int) -> DataFrame:
    """(store_id, sku, forecast_date, offset, forecast_units) for `days` days from `first_day`."""
    offsets = F.explode(F.sequence(F.lit(0), F.lit(days - 1))).alias("offset")
    return (
        stats.select(*_KEY, "level", "dow_index", offsets)
        .withColumn("forecast_date", F.date_add(F.lit(first_day), F.col("offset")))
        .withColumn(
            "forecast_units",
            F.col("level") * F.element_at(F.col("dow_index"), iso_weekday(F.col("forecast_date")) + 1),
        )
        .select(*_KEY, "forecast_date", "offset", "forecast_units")
    )


def stockout_dates_frame(forecasts: DataFrame, stock: DataFrame) -> DataFrame:
    """Spark version of `predicted_stockout_date`: stock is (store_id, sku, on_hand, sold_today)."""
    joined = forecasts.join(stock, _KEY)
    demand = F.when(
        F.col("offset") == 0, F.greatest(F.col("forecast_units") - F.col("sold_today"), F.lit(0.0))
    ).otherwise(F.col("forecast_units"))
    cumulative = F.sum(demand).over(
        Window.partitionBy(*_KEY).orderBy("offset").rowsBetween(Window.unboundedPreceding, 0)
    )
    reached = (F.col("on_hand") <= 0) | (cumulative >= F.col("on_hand"))
    return (
        joined.withColumn("reached", reached)
        .groupBy(*_KEY)
        .agg(F.min(F.when(F.col("reached"), F.col("forecast_date"))).alias("predicted_stockout_date"))
    )


def replenishment_frame(
    stats: DataFrame,
    stock: DataFrame,
    lead_times: DataFrame,
    *,
    z: float,
    review_days: int,
    default_lead_time_days: int,
    overstock_cover_days: float,
) -> DataFrame:
    """Safety stock, reorder point, order-up-to level, cover, order quantity and risk per store-SKU.

    stock is (store_id, sku, on_hand, sold_today) for every modelled store-SKU; stats may lack
    store-SKUs without in-stock history (they get zero demand); lead_times is (sku, lead_time_days).
    """
    frame = (
        stock.join(stats, _KEY, "left")
        .join(lead_times, "sku", "left")
        .fillna({"level": 0.0, "mean_short": 0.0, "mean_long": 0.0, "std": 0.0, "days": 0})
        .withColumn("dow_index", F.coalesce(F.col("dow_index"), F.array(*[F.lit(1.0)] * 7)))
        .withColumn("lead_time_days", F.coalesce(F.col("lead_time_days"), F.lit(default_lead_time_days)))
    )
    lead = F.col("lead_time_days")
    safety = F.lit(z) * F.col("std") * F.sqrt(lead)
    frame = frame.withColumn("safety_stock", safety)
    frame = frame.withColumn("reorder_point", F.col("level") * lead + F.col("safety_stock"))
    frame = frame.withColumn(
        "order_up_to_level", F.col("level") * (lead + F.lit(review_days)) + F.col("safety_stock")
    )
    frame = frame.withColumn("days_of_cover", cover_column(F.col("on_hand"), F.col("level")))
    gap = F.round(F.col("order_up_to_level") - F.col("on_hand"), 6)
    frame = frame.withColumn("recommended_order_qty", F.greatest(F.ceil(gap), F.lit(0)).cast("int"))
    return frame.withColumn(
        "risk",
        risk_column(F.col("on_hand"), F.col("reorder_point"), F.col("days_of_cover"), overstock_cover_days),
    )


def cover_column(on_hand: Column, level: Column) -> Column:
    """Spark version of `days_of_cover`."""
    return F.when(on_hand <= 0, F.lit(0.0)).when(level > 0, on_hand / level)


def risk_column(on_hand: Column, reorder: Column, cover: Column, overstock_cover_days: float) -> Column:
    """Spark version of `risk`."""
    return (
        F.when(on_hand <= 0, F.lit("stockout"))
        .when(on_hand <= reorder, F.lit("below_reorder_point"))
        .when(cover.isNotNull() & (cover > F.lit(overstock_cover_days)), F.lit("overstock"))
        .otherwise(F.lit("ok"))
    )
