"""The stock model in Spark: the formulas of `stock_model`, over every store-SKU at once.

Each function here is the DataFrame version of a reference function in `stock_model` (named in
its docstring), built from columns so one job computes thousands of store-SKUs in a few
aggregations. They live apart from the references so those stay plain Python; integration tests
(tests/integration/test_gold_job.py) hold the two to the same numbers row for row.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.gold.stock_model import (
    DEFAULT_DISPERSION,
    DEFAULT_ELASTICITY,
    DISPERSION_PRIOR_DAYS,
    DOW_PRIOR_DAYS,
    LONG_WINDOW_DAYS,
    MIN_DISPERSION,
    MODEL_VERSION,
    SHORT_WINDOW_DAYS,
    TYPICAL_DISCOUNT,
    UPLIFT_PRIOR_DAYS,
)

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
    """Safety stock, reorder point, order-up-to level, cover, order quantity, risk and the model
    version per store-SKU.

    stock is (store_id, sku, on_hand, sold_today, on_order) for every modelled store-SKU; the order
    brings the inventory position (on hand + on order) up to S. stats may lack
    store-SKUs without in-stock history (they get zero demand); lead_times is (sku, lead_time_days).
    """
    frame = (
        stock.join(stats, _KEY, "left")
        .join(lead_times, "sku", "left")
        .fillna({"level": 0.0, "mean_short": 0.0, "mean_long": 0.0, "std": 0.0, "days": 0, "on_order": 0})
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
    frame = frame.withColumn("inventory_position", (F.col("on_hand") + F.col("on_order")).cast("int"))
    gap = F.round(F.col("order_up_to_level") - F.col("inventory_position"), 6)
    frame = frame.withColumn("recommended_order_qty", F.greatest(F.ceil(gap), F.lit(0)).cast("int"))
    frame = frame.withColumn("model_version", F.lit(MODEL_VERSION))
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


def promotion_calendar_frame(
    promotions: DataFrame, stores: DataFrame, first_day: date, last_day: date, as_of: datetime
) -> DataFrame:
    """(store_id, sku, day, promotion_id, discount_percent, announced_at): one row per store-SKU-day.

    Each promotion announced by `as_of` is exploded over its stores (every store in `stores`
    when its store_ids is null) and its days between `first_day` and `last_day`; where two
    overlap, the deeper discount counts.
    """
    announced = promotions.where(F.col("event_time") <= F.lit(as_of))
    listed = announced.where(F.col("store_ids").isNotNull()).select(
        "*", F.explode("store_ids").alias("store_id")
    )
    chain = announced.where(F.col("store_ids").isNull()).crossJoin(stores.select("store_id"))
    days = F.explode(
        F.sequence(F.greatest("first_day", F.lit(first_day)), F.least("last_day", F.lit(last_day)))
    ).alias("day")
    exploded = (
        listed.unionByName(chain)
        .where((F.col("last_day") >= F.lit(first_day)) & (F.col("first_day") <= F.lit(last_day)))
        .select("store_id", "sku", "promotion_id", "discount_percent", "event_time", days)
    )
    return exploded.groupBy(*_KEY, "day").agg(
        F.max_by("promotion_id", F.struct("discount_percent", "promotion_id")).alias("promotion_id"),
        F.max("discount_percent").alias("discount_percent"),
        F.min("event_time").alias("announced_at"),
    )


def order_lines_frame(purchase_orders: DataFrame, deliveries: DataFrame, as_of: datetime) -> DataFrame:
    """Spark version of `order_status` and `on_order`: every purchase order line placed by `as_of`.

    Returns (store_id, sku, order_id, supplier_id, ordered_at, expected_at, ordered, received,
    received_at, status, on_order). The deliveries carrying the order id and the SKU by `as_of`
    close the line, whatever they brought.
    """
    received = (
        deliveries.where(F.col("order_id").isNotNull() & (F.col("event_time") <= F.lit(as_of)))
        .groupBy("store_id", "order_id", "sku")
        .agg(F.sum("quantity").cast("int").alias("received"), F.min("event_time").alias("received_at"))
    )
    lines = (
        purchase_orders.where(F.col("event_time") <= F.lit(as_of))
        .groupBy("store_id", "order_id", "sku")
        .agg(
            F.first("supplier_id").alias("supplier_id"),
            F.min("ordered_at").alias("ordered_at"),
            F.min("expected_at").alias("expected_at"),
            F.sum("quantity").cast("int").alias("ordered"),
        )
        .join(received, ["store_id", "order_id", "sku"], "left")
    )
    status = (
        F.when(F.col("received").isNull() & (F.col("expected_at") < F.lit(as_of)), F.lit("late"))
        .when(F.col("received").isNull(), F.lit("open"))
        .when(F.col("received") >= F.col("ordered"), F.lit("received"))
        .otherwise(F.lit("short"))
    )
    return lines.withColumn("status", status).withColumn(
        "on_order", F.when(F.col("received").isNull(), F.col("ordered")).otherwise(F.lit(0))
    )


def receipts_frame(order_lines: DataFrame, as_of_day: date) -> DataFrame:
    """(store_id, sku, receipt_day, units) of the open lines, on `receipt_day` (late: tomorrow)."""
    day = F.greatest(F.to_date("expected_at"), F.lit(as_of_day + timedelta(days=1)))
    return (
        order_lines.where(F.col("on_order") > 0)
        .groupBy(*_KEY, day.alias("receipt_day"))
        .agg(F.sum("on_order").cast("int").alias("units"))
    )


def history_with_promotions(history: DataFrame, calendar: DataFrame) -> DataFrame:
    """history (store_id, sku, day, sold, in_stock) with each day's discount as a fraction (0 if none)."""
    discounts = calendar.select(*_KEY, "day", (F.col("discount_percent") / 100.0).alias("discount"))
    return history.join(discounts, [*_KEY, "day"], "left").fillna(0.0, ["discount"])


def demand_stats_frame(history: DataFrame, as_of_day: date, alpha: float, history_days: int) -> DataFrame:
    """Spark version of `demand_stats`: history is (store_id, sku, day, sold, in_stock, discount).

    Level and weekday index come from in-stock days without a promotion. The EWMA is in closed
    form, so the level is one aggregation: with n kept days, newest first at k = 0, day k weighs
    alpha * (1 - alpha)^k and the oldest (1 - alpha)^(n - 1), which is what the recursion started
    at the first value gives; level = sum(w y) / sum(w index). The promotion and dispersion sums
    are taken against that baseline in a second pass.
    """
    first = as_of_day - timedelta(days=history_days)
    kept = history.where(
        F.col("in_stock") & (F.col("day") >= F.lit(first)) & (F.col("day") < F.lit(as_of_day))
    ).withColumn("weekday", iso_weekday(F.col("day")))
    plain = kept.where(F.col("discount") == 0)
    key_window = Window.partitionBy(*_KEY)
    plain = plain.withColumn("mean_all", F.avg("sold").over(key_window)).withColumn(
        "n", F.count("*").over(key_window)
    )
    weekday_window = Window.partitionBy(*_KEY, "weekday")
    index = F.when(F.col("mean_all") == 0, F.lit(1.0)).otherwise(
        (F.sum("sold").over(weekday_window) + DOW_PRIOR_DAYS * F.col("mean_all"))
        / ((F.count("*").over(weekday_window) + DOW_PRIOR_DAYS) * F.col("mean_all"))
    )
    plain = plain.withColumn("index", index).withColumn(
        "age", F.row_number().over(Window.partitionBy(*_KEY).orderBy(F.col("day").desc())) - 1
    )
    weight = F.when(F.col("age") == F.col("n") - 1, F.pow(F.lit(1 - alpha), F.col("n") - 1)).otherwise(
        F.lit(alpha) * F.pow(F.lit(1 - alpha), F.col("age"))
    )
    baseline = plain.groupBy(*_KEY).agg(
        (F.sum(weight * F.col("sold")) / F.sum(weight * F.col("index"))).alias("level"),
        F.count("*").cast("int").alias("plain_days"),
        F.array(
            *[F.coalesce(F.max(F.when(F.col("weekday") == w, F.col("index"))), F.lit(1.0)) for w in range(7)]
        ).alias("dow_index"),
    )
    short_days = F.col("day") >= F.lit(as_of_day - timedelta(days=SHORT_WINDOW_DAYS))
    long_days = F.col("day") >= F.lit(as_of_day - timedelta(days=LONG_WINDOW_DAYS))
    with_base = kept.join(baseline, _KEY, "left").withColumn(
        "expected",
        F.coalesce(F.col("level"), F.lit(0.0))
        * F.coalesce(F.element_at(F.col("dow_index"), F.col("weekday") + 1), F.lit(1.0)),
    )
    is_promo = F.col("discount") > 0
    error = F.col("sold") - F.col("expected")
    sums = with_base.groupBy(*_KEY).agg(
        F.coalesce(F.avg(F.when(short_days, F.col("sold"))), F.lit(0.0)).alias("mean_short"),
        F.coalesce(F.avg(F.when(long_days, F.col("sold"))), F.lit(0.0)).alias("mean_long"),
        F.coalesce(F.stddev_samp(F.when(long_days, F.col("sold"))), F.lit(0.0)).alias("std"),
        F.count("*").cast("int").alias("days"),
        F.sum(F.when(is_promo, error).otherwise(0.0)).alias("promo_excess"),
        F.sum(F.when(is_promo, F.col("expected") * F.col("discount")).otherwise(0.0)).alias("promo_weight"),
        F.sum(F.when(~is_promo, error * error).otherwise(0.0)).alias("squared_error"),
        F.sum(F.when(~is_promo, F.col("expected")).otherwise(0.0)).alias("baseline"),
    )
    return (
        sums.join(baseline, _KEY, "left")
        .fillna({"level": 0.0, "plain_days": 0})
        .withColumn("dow_index", F.coalesce(F.col("dow_index"), F.array(*[F.lit(1.0)] * 7)))
    )


def category_priors_frame(stats: DataFrame, categories: DataFrame, level_share: float) -> DataFrame:
    """Spark version of `category_prior`: (category, prior_elasticity, prior_dispersion).

    categories is (sku, category); the sums of every store-SKU of a category are pooled.
    """
    pooled = (
        stats.join(categories, "sku")
        .groupBy("category")
        .agg(
            F.sum("promo_excess").alias("excess"),
            F.sum("promo_weight").alias("weight"),
            F.sum("squared_error").alias("squared"),
            F.sum("baseline").alias("base"),
        )
    )
    return pooled.select(
        "category",
        F.when(F.col("weight") > 0, F.col("excess") / F.col("weight"))
        .otherwise(F.lit(DEFAULT_ELASTICITY))
        .alias("prior_elasticity"),
        F.when(
            F.col("base") > 0,
            F.greatest(F.col("squared") / F.col("base") / F.lit(1 + level_share) - 1, F.lit(MIN_DISPERSION)),
        )
        .otherwise(F.lit(DEFAULT_DISPERSION))
        .alias("prior_dispersion"),
    )


def shrunk_columns(level_share: float) -> dict[str, Column]:
    """Spark versions of `elasticity` and `dispersion`, over stats joined with their category's prior."""
    prior_beta = F.coalesce(F.col("prior_elasticity"), F.lit(DEFAULT_ELASTICITY))
    prior_delta = F.coalesce(F.col("prior_dispersion"), F.lit(DEFAULT_DISPERSION))
    pseudo = F.lit(UPLIFT_PRIOR_DAYS) * F.col("level") * F.lit(TYPICAL_DISCOUNT)
    beta = F.when(F.col("promo_weight") + pseudo <= 0, F.greatest(prior_beta, F.lit(0.0))).otherwise(
        F.greatest(
            (F.col("promo_excess") + pseudo * prior_beta) / (F.col("promo_weight") + pseudo), F.lit(0.0)
        )
    )
    has_base = F.col("baseline") > 0
    own = F.when(has_base, F.col("squared_error") / F.col("baseline") / F.lit(1 + level_share) - 1).otherwise(
        prior_delta
    )
    days = F.when(has_base, F.col("plain_days")).otherwise(F.lit(0))
    delta = F.greatest(
        (days * own + F.lit(DISPERSION_PRIOR_DAYS) * prior_delta) / (days + F.lit(DISPERSION_PRIOR_DAYS)),
        F.lit(MIN_DISPERSION),
    )
    return {"elasticity": beta, "dispersion": delta}


def nb_at_least_column(mean: Column, dispersion: Column, units: Column) -> Column:
    """Spark version of `nb_at_least`: the same log-space loop, as a SQL `aggregate`."""
    r = mean / dispersion
    log_q = F.log(dispersion / (dispersion + F.lit(1.0)))
    start = F.struct((-r * F.log1p(dispersion)).alias("lp"), F.lit(0.0).alias("below"))
    below = F.aggregate(
        F.sequence(F.lit(0), units - 1),
        start,
        lambda acc, k: F.struct(
            (acc["lp"] + F.log((k + r) / (k + F.lit(1))) + log_q).alias("lp"),
            (acc["below"] + F.exp(acc["lp"])).alias("below"),
        ),
    )["below"]
    return (
        F.when(units <= 0, F.lit(1.0))
        .when(mean <= 0, F.lit(0.0))
        .otherwise(F.least(F.greatest(F.lit(1.0) - below, F.lit(0.0)), F.lit(1.0)))
    )


def forecast_frame(model: DataFrame, calendar: DataFrame, first_day: date, days: int) -> DataFrame:
    """Spark version of `forecast` with promotions: (store_id, sku, forecast_date, offset, forecast_units,
    model_version).

    model holds level, dow_index, elasticity and lead_time_days per store-SKU; each gets
    max(days, lead time + 1) days, as `assess` forecasts for its probability.
    """
    horizon = F.greatest(F.lit(days), F.col("lead_time_days") + 1)
    offsets = F.explode(F.sequence(F.lit(0), horizon - 1)).alias("offset")
    discounts = calendar.select(
        *_KEY, F.col("day").alias("forecast_date"), (F.col("discount_percent") / 100.0).alias("discount")
    )
    return (
        model.select(*_KEY, "level", "dow_index", "elasticity", offsets)
        .withColumn("forecast_date", F.date_add(F.lit(first_day), F.col("offset")))
        .join(discounts, [*_KEY, "forecast_date"], "left")
        .withColumn(
            "forecast_units",
            F.col("level")
            * F.element_at(F.col("dow_index"), iso_weekday(F.col("forecast_date")) + 1)
            * (F.lit(1.0) + F.col("elasticity") * F.coalesce(F.col("discount"), F.lit(0.0))),
        )
        .select(
            *_KEY, "forecast_date", "offset", "forecast_units", F.lit(MODEL_VERSION).alias("model_version")
        )
    )


def risk_frame(
    forecasts: DataFrame,
    model: DataFrame,
    receipts: DataFrame,
    *,
    as_of_day: date,
    today_share: float,
    level_share: float,
    forecast_days: int,
) -> DataFrame:
    """Spark version of `stockout_probability` and `expected_stockout_date` (as `assess` calls them).

    model is (store_id, sku, on_hand, sold_today, lead_time_days, dispersion, plain_days);
    returns (store_id, sku, stockout_probability, stockout_probability_1d, expected_stockout_date,
    next_receipt_at).
    """
    today = forecasts.where(F.col("offset") == 0).select(*_KEY, F.col("forecast_units").alias("today_units"))
    ahead = (
        forecasts.where(F.col("offset") > 0)
        .join(model, _KEY)
        .join(today, _KEY)
        .join(
            receipts.withColumnRenamed("receipt_day", "forecast_date").withColumnRenamed("units", "arriving"),
            [*_KEY, "forecast_date"],
            "left",
        )
    )
    by_offset = Window.partitionBy(*_KEY).orderBy("offset").rowsBetween(Window.unboundedPreceding, 0)
    today_rest = F.greatest(F.col("today_units") - F.col("sold_today"), F.lit(0.0)) * F.lit(today_share)
    ahead = ahead.withColumn("cumulative", today_rest + F.sum("forecast_units").over(by_offset)).withColumn(
        "supply",
        (F.col("on_hand") + F.sum(F.coalesce(F.col("arriving"), F.lit(0))).over(by_offset)).cast("int"),
    )
    index_share = F.lit(1.0) / (F.col("plain_days") / 7.0 + F.lit(DOW_PRIOR_DAYS))
    spread = (F.lit(1.0) + F.col("dispersion")) * (
        F.lit(1.0) + F.col("offset") * F.lit(level_share) + index_share
    ) - F.lit(1.0)
    in_lead = F.col("offset") <= F.col("lead_time_days")
    ahead = ahead.withColumn(
        "p",
        F.when(
            in_lead | (F.col("offset") == 1), nb_at_least_column(F.col("cumulative"), spread, F.col("supply"))
        ),
    )
    reached = (F.col("offset") < F.lit(forecast_days)) & (F.col("cumulative") >= F.col("supply"))
    found = ahead.groupBy(*_KEY).agg(
        F.coalesce(F.max(F.when(in_lead, F.col("p"))), F.lit(0.0)).alias("stockout_probability"),
        F.coalesce(F.max(F.when(F.col("offset") == 1, F.col("p"))), F.lit(0.0)).alias(
            "stockout_probability_1d"
        ),
        F.min(F.when(reached, F.col("forecast_date"))).alias("reached_date"),
        F.first("on_hand").alias("on_hand_now"),
    )
    return found.select(
        *_KEY,
        "stockout_probability",
        "stockout_probability_1d",
        F.when(F.col("on_hand_now") <= 0, F.lit(as_of_day))
        .otherwise(F.col("reached_date"))
        .alias("expected_stockout_date"),
    )
