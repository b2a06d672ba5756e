"""Move the job's DataFrames into gold: COPY into staging tables, then merge, all in one transaction.

Why this shape: COPY is the fastest way into PostgreSQL, temporary staging tables vanish with
the transaction, and every merge is an upsert on the table's key, so a rerun of the same input
changes nothing and duplicates nothing. Because staging, merges, alert lifecycle and the
`load_runs` row share one transaction, a load that fails anywhere leaves gold exactly as it was.

Spark renders each row as a CSV line on the executors (`csv_lines`), so only text crosses to
the driver, which streams it into COPY. On a cluster with a large first load, the same staging
tables could be filled by Spark's JDBC writer instead; the merges would not change.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from psycopg2 import sql
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType

from lakehouse.config import Settings
from lakehouse.db import connect
from spark_jobs.gold import alerts
from spark_jobs.gold import stock_model as model

# Staging tables: column names and types, in the order the job's DataFrames carry them.
STAGING: dict[str, tuple[tuple[str, str], ...]] = {
    "stg_dim_store": (
        ("store_id", "text"),
        ("store_name", "text"),
        ("region", "text"),
        ("city", "text"),
        ("state", "text"),
        ("manager", "text"),
        ("timezone", "text"),
        ("store_size", "text"),
        ("square_meters", "integer"),
        ("opens_at", "text"),
        ("closes_at", "text"),
        ("snapshot_at", "timestamptz"),
    ),
    "stg_dim_product": (
        ("sku", "text"),
        ("product_name", "text"),
        ("category", "text"),
        ("brand", "text"),
        ("supplier_id", "text"),
        ("lead_time_days", "integer"),
        ("unit_cost", "numeric"),
        ("price", "numeric"),
        ("valid_from", "timestamptz"),  # null for a SKU's first version
        ("valid_to", "timestamptz"),
    ),
    "stg_fact_sales": (
        ("event_id", "uuid"),
        ("line_number", "integer"),
        ("basket_id", "uuid"),
        ("store_id", "text"),
        ("sku", "text"),
        ("sold_at", "timestamptz"),
        ("quantity", "integer"),
        ("unit_price", "numeric"),
        ("discount", "numeric"),
        ("payment_method", "text"),
        ("loyalty_id", "text"),
    ),
    "stg_inventory_snapshot": (
        ("store_id", "text"),
        ("sku", "text"),
        ("calendar_date", "date"),
        ("opening_on_hand", "integer"),
        ("sold", "integer"),
        ("received", "integer"),
        ("count_adjustment", "integer"),
        ("closing_on_hand", "integer"),
        ("safety_stock", "numeric"),
        ("reorder_point", "numeric"),
        ("risk", "text"),
    ),
    "stg_stock_position": (
        ("store_id", "text"),
        ("sku", "text"),
        ("on_hand", "integer"),
        ("mean_7d", "numeric"),
        ("mean_28d", "numeric"),
        ("ewma", "numeric"),
        ("demand_std", "numeric"),
        ("demand_days", "integer"),
        ("dow_index", "numeric[]"),
        ("service_level", "numeric"),
        ("lead_time_days", "integer"),
        ("safety_stock", "numeric"),
        ("reorder_point", "numeric"),
        ("order_up_to_level", "numeric"),
        ("days_of_cover", "numeric"),
        ("predicted_stockout_date", "date"),
        ("recommended_order_qty", "integer"),
        ("risk", "text"),
    ),
    "stg_stock_forecast": (
        ("store_id", "text"),
        ("sku", "text"),
        ("forecast_date", "date"),
        ("forecast_units", "numeric"),
    ),
}

_CSV_OPTIONS = {
    "timestampFormat": "yyyy-MM-dd HH:mm:ss.SSSSSSXXX",
    "dateFormat": "yyyy-MM-dd",
    "escape": '"',  # PostgreSQL doubles quotes inside quoted values
    "nullValue": "",  # unquoted empty is NULL to COPY ... (format csv)
}


class LoadError(RuntimeError):
    """The staged data cannot be merged into gold; nothing was changed. The message says why."""


def staging_columns(table: str) -> list[str]:
    return [name for name, _ in STAGING[table]]


def csv_lines(frame: DataFrame, table: str) -> Iterator[str]:
    """The rows of `frame` as CSV lines in the column order of staging `table`.

    Spark formats the lines on the executors (arrays as PostgreSQL array literals), and the
    driver fetches them a partition at a time, so memory stays flat whatever the row count.
    """
    columns = []
    for name in staging_columns(table):
        column = F.col(name)
        if isinstance(frame.schema[name].dataType, ArrayType):
            column = F.concat(F.lit("{"), F.array_join(column.cast("array<string>"), ","), F.lit("}"))
        columns.append(column.alias(name))
    rendered = frame.select(F.to_csv(F.struct(*columns), _CSV_OPTIONS).alias("line"))
    return (row.line for row in rendered.toLocalIterator(prefetchPartitions=True))


class _LineStream(io.TextIOBase):
    """A read()-able file over an iterator of lines, for COPY FROM STDIN."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._buffer = ""
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        want = size if size is not None and size >= 0 else 1 << 62
        parts, length = [self._buffer], len(self._buffer)
        while length < want:
            line = next(self._lines, None)
            if line is None:
                break
            self.count += 1
            parts.append(line + "\n")
            length += len(line) + 1
        text = "".join(parts)
        self._buffer = text[want:] if length > want else ""
        return text[:want]


def copy_lines(cursor, table: str, lines: Iterable[str]) -> int:
    """COPY CSV lines into staging `table`; returns the number of rows."""
    stream = _LineStream(lines)
    statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, staging_columns(table)))
    )
    cursor.copy_expert(statement.as_string(cursor), stream, size=1 << 20)
    return stream.count


def create_staging(cursor) -> None:
    for table, columns in STAGING.items():
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in columns
        )
        cursor.execute(
            sql.SQL("create temp table {} ({}) on commit drop").format(sql.Identifier(table), definition)
        )


MERGE_DIM_STORE = """
insert into dim_store (
    store_id, store_name, region, city, state, manager, timezone, store_size, square_meters,
    opens_at, closes_at, snapshot_at
)
select * from stg_dim_store
on conflict (store_id) do update set
    store_name = excluded.store_name,
    region = excluded.region,
    city = excluded.city,
    state = excluded.state,
    manager = excluded.manager,
    timezone = excluded.timezone,
    store_size = excluded.store_size,
    square_meters = excluded.square_meters,
    opens_at = excluded.opens_at,
    closes_at = excluded.closes_at,
    snapshot_at = excluded.snapshot_at,
    loaded_at = now()
where excluded.snapshot_at >= dim_store.snapshot_at
"""

# Existing versions first (closing the old current one), then new versions: the other order
# would briefly make two versions current, which the one-current-version index refuses.
UPDATE_DIM_PRODUCT = """
update dim_product as product
set product_name = staged.product_name,
    category = staged.category,
    brand = staged.brand,
    supplier_id = staged.supplier_id,
    lead_time_days = staged.lead_time_days,
    valid_to = staged.valid_to,
    is_current = staged.valid_to is null,
    loaded_at = now()
from stg_dim_product as staged
where product.sku = staged.sku
    and product.valid_from = coalesce(staged.valid_from, '-infinity')
"""

INSERT_DIM_PRODUCT = """
insert into dim_product (
    sku, product_name, category, brand, supplier_id, lead_time_days, unit_cost, price,
    valid_from, valid_to, is_current
)
select
    staged.sku, staged.product_name, staged.category, staged.brand, staged.supplier_id,
    staged.lead_time_days, staged.unit_cost, staged.price,
    coalesce(staged.valid_from, '-infinity'), staged.valid_to, staged.valid_to is null
from stg_dim_product as staged
where not exists (
    select 1 from dim_product as product
    where product.sku = staged.sku and product.valid_from = coalesce(staged.valid_from, '-infinity')
)
"""

UNMATCHED_SALES = """
with staged as (
    select * from stg_fact_sales
),

unmatched as (
    select
        staged.store_id,
        staged.sku,
        not exists (select 1 from dim_store as store where store.store_id = staged.store_id) as no_store,
        not exists (
            select 1 from dim_product as product
            where product.sku = staged.sku and product.valid_from <= staged.sold_at
        ) as no_product
    from staged
)

select count(*), min(store_id) filter (where no_store), min(sku) filter (where no_product)
from unmatched
where no_store or no_product
"""

INSERT_FACT_SALES = """
with staged as (
    select * from stg_fact_sales
),

priced as (
    select
        staged.*,
        product.product_key,
        product.unit_cost,
        to_char(staged.sold_at at time zone 'UTC', 'YYYYMMDD')::integer as date_key
    from staged
    join dim_product as product
        on product.sku = staged.sku
        and staged.sold_at >= product.valid_from
        and staged.sold_at < coalesce(product.valid_to, 'infinity')
),

inserted as (
    insert into fact_sales (
        event_id, line_number, basket_id, store_id, product_key, sku, date_key, sold_at,
        quantity, unit_price, discount, unit_cost, payment_method, loyalty_id
    )
    select
        event_id, line_number, basket_id, store_id, product_key, sku, date_key, sold_at,
        quantity, unit_price, coalesce(discount, 0), unit_cost, payment_method, loyalty_id
    from priced
    on conflict (event_id, line_number) do nothing
    returning 1
)

select count(*) from inserted
"""

REFRESH_AGGREGATE = """
select refresh_agg_sales_store_daily(coalesce((
    select jsonb_agg(jsonb_build_object('store_id', store_id, 'date_key', date_key))
    from (
        select distinct store_id, to_char(sold_at at time zone 'UTC', 'YYYYMMDD')::integer as date_key
        from stg_fact_sales
    ) as touched
), '[]'::jsonb))
"""

MERGE_INVENTORY_SNAPSHOT = """
insert into fact_inventory_snapshot (
    store_id, sku, date_key, opening_on_hand, sold, received, count_adjustment, closing_on_hand,
    safety_stock, reorder_point, risk
)
select
    staged.store_id, staged.sku, day.date_key, staged.opening_on_hand, staged.sold, staged.received,
    staged.count_adjustment, staged.closing_on_hand, round(staged.safety_stock, 2),
    round(staged.reorder_point, 2), staged.risk
from stg_inventory_snapshot as staged
join dim_date as day on day.calendar_date = staged.calendar_date
on conflict (store_id, sku, date_key) do update set
    opening_on_hand = excluded.opening_on_hand,
    sold = excluded.sold,
    received = excluded.received,
    count_adjustment = excluded.count_adjustment,
    closing_on_hand = excluded.closing_on_hand,
    safety_stock = excluded.safety_stock,
    reorder_point = excluded.reorder_point,
    risk = excluded.risk,
    loaded_at = now()
"""

MERGE_STOCK_POSITION = """
insert into stock_position (
    store_id, sku, as_of, on_hand, mean_7d, mean_28d, ewma, demand_std, demand_days, dow_index,
    service_level, lead_time_days, safety_stock, reorder_point, order_up_to_level, days_of_cover,
    predicted_stockout_date, recommended_order_qty, risk
)
select
    store_id, sku, %(as_of)s, on_hand, round(mean_7d, 3), round(mean_28d, 3), round(ewma, 3),
    round(demand_std, 3), demand_days, dow_index::numeric(6, 3)[], service_level, lead_time_days,
    round(safety_stock, 2), round(reorder_point, 2), round(order_up_to_level, 2),
    round(days_of_cover, 2), predicted_stockout_date, recommended_order_qty, risk
from stg_stock_position
on conflict (store_id, sku) do update set
    as_of = excluded.as_of,
    on_hand = excluded.on_hand,
    mean_7d = excluded.mean_7d,
    mean_28d = excluded.mean_28d,
    ewma = excluded.ewma,
    demand_std = excluded.demand_std,
    demand_days = excluded.demand_days,
    dow_index = excluded.dow_index,
    service_level = excluded.service_level,
    lead_time_days = excluded.lead_time_days,
    safety_stock = excluded.safety_stock,
    reorder_point = excluded.reorder_point,
    order_up_to_level = excluded.order_up_to_level,
    days_of_cover = excluded.days_of_cover,
    predicted_stockout_date = excluded.predicted_stockout_date,
    recommended_order_qty = excluded.recommended_order_qty,
    risk = excluded.risk,
    loaded_at = now()
"""

REPLACE_FORECAST = """
delete from stock_forecast as forecast
using stg_stock_position as staged
where forecast.store_id = staged.store_id and forecast.sku = staged.sku;

insert into stock_forecast (store_id, sku, forecast_date, forecast_units, as_of)
select store_id, sku, forecast_date, round(forecast_units, 3), %(as_of)s
from stg_stock_forecast;
"""

STAGED_DATES = """
select min(day), max(day) from (
    select (sold_at at time zone 'UTC')::date as day from stg_fact_sales
    union all select calendar_date from stg_inventory_snapshot
    union all select forecast_date from stg_stock_forecast
) as days
"""

EVALUATED_POSITIONS = """
select store_id, sku, on_hand, safety_stock, reorder_point, days_of_cover, predicted_stockout_date,
       lead_time_days, recommended_order_qty
from stg_stock_position
"""


@dataclass(frozen=True)
class LoadRun:
    """What a load is: its data time, the first day it reread, and its mode."""

    as_of: datetime  # timezone-aware
    window_start: date
    mode: str  # full or incremental
    started_at: datetime
    overstock_cover_days: float
    silver_loaded_through: datetime | None = None


def alert_conditions_of_staged_positions(cursor, run: LoadRun) -> list[alerts.AlertCondition]:
    """The alert conditions of every position in this load (stock_model.alert_conditions)."""
    cursor.execute(EVALUATED_POSITIONS)
    found = []
    for store_id, sku, on_hand, safety, reorder, cover, stockout, lead, quantity in cursor.fetchall():
        conditions = model.alert_conditions(
            on_hand=on_hand,
            safety=float(safety),
            reorder=float(reorder),
            cover=None if cover is None else float(cover),
            stockout_date=stockout,
            as_of_day=run.as_of.date(),
            lead_time_days=lead,
            overstock_cover_days=run.overstock_cover_days,
        )
        found.extend(
            alerts.AlertCondition(
                store_id, sku, kind, severity, on_hand, round(float(reorder), 2), stockout, quantity
            )
            for kind, severity in conditions.items()
        )
    return found


def load_gold(settings: Settings, schema: str, staged: dict[str, Iterable[str]], run: LoadRun) -> dict:
    """Stage the CSV lines of each staging table and merge them all, in one transaction.

    `staged` maps staging table names (see STAGING) to CSV lines; tables left out stage nothing.
    Returns row counts per table, the alert lifecycle counts and the run id.
    """
    counts: dict[str, int] = {}
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}, public").format(sql.Identifier(schema)))
        cursor.execute("set local timezone to 'UTC'")
        create_staging(cursor)
        for table in STAGING:
            counts[table] = copy_lines(cursor, table, staged.get(table, ()))
        cursor.execute(STAGED_DATES)
        first_day, last_day = cursor.fetchone()
        if first_day is not None:
            cursor.execute("select ensure_dim_date(%s, %s)", (first_day, last_day))
        cursor.execute(MERGE_DIM_STORE)
        cursor.execute(UPDATE_DIM_PRODUCT)
        cursor.execute(INSERT_DIM_PRODUCT)
        cursor.execute(UNMATCHED_SALES)
        unmatched, store, sku = cursor.fetchone()
        if unmatched:
            raise LoadError(
                f"{unmatched} sales line(s) name a store or SKU gold does not know (e.g. store {store}, "
                f"SKU {sku}); silver should have quarantined them: check silver's reference checks"
            )
        cursor.execute(INSERT_FACT_SALES)
        counts["fact_sales_inserted"] = cursor.fetchone()[0]
        cursor.execute(REFRESH_AGGREGATE)
        counts["agg_sales_store_daily"] = cursor.fetchone()[0]
        cursor.execute(MERGE_INVENTORY_SNAPSHOT)
        cursor.execute(MERGE_STOCK_POSITION, {"as_of": run.as_of})
        cursor.execute(REPLACE_FORECAST, {"as_of": run.as_of})
        conditions = alert_conditions_of_staged_positions(cursor, run)
        alert_counts = alerts.apply_lifecycle(cursor, conditions, run.as_of)
        cursor.execute(
            "insert into load_runs (mode, as_of, window_start, row_counts, started_at, "
            "silver_loaded_through) values (%s, %s, %s, %s::jsonb, %s, %s) returning run_id",
            (
                run.mode,
                run.as_of,
                run.window_start,
                json.dumps(counts | alert_counts, sort_keys=True),
                run.started_at,
                run.silver_loaded_through,
            ),
        )
        run_id = cursor.fetchone()[0]
    return {"run_id": run_id, "rows": counts, "alerts": alert_counts}


@dataclass(frozen=True)
class PreviousLoad:
    as_of: datetime
    window_start: date
    silver_loaded_through: datetime | None


def last_load(settings: Settings, schema: str) -> PreviousLoad | None:
    """The newest load in gold, or None before the first."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "select as_of, window_start, silver_loaded_through from {}.load_runs "
                "order by as_of desc, run_id desc limit 1"
            ).format(sql.Identifier(schema))
        )
        row = cursor.fetchone()
    return PreviousLoad(*row) if row else None


def read_gold_snapshots(
    spark: SparkSession, settings: Settings, schema: str, first_day: date, last_day: date
) -> DataFrame:
    """(store_id, sku, day, sold, closing) of gold's inventory snapshots between two days, over JDBC.

    Spark reads it straight from PostgreSQL, in a few date ranges at once, so the stock model's
    history and anchors come from gold without passing through the driver.
    """
    first_key, last_key = (int(day.strftime("%Y%m%d")) for day in (first_day, last_day))
    query = (
        f'select store_id, sku, date_key, sold, closing_on_hand from "{schema}".fact_inventory_snapshot '
        f"where date_key between {first_key} and {last_key}"
    )
    frame = (
        spark.read.format("jdbc")
        .option(
            "url",
            f"jdbc:postgresql://{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}",
        )
        .option("driver", "org.postgresql.Driver")
        .option("user", settings.postgres_user)
        .option("password", settings.postgres_password)
        .option("dbtable", f"({query}) as snapshots")
        .option("partitionColumn", "date_key")
        .option("lowerBound", first_key)
        .option("upperBound", last_key + 1)
        .option("numPartitions", 4)
        .option("fetchsize", 10_000)
        .load()
    )
    return frame.select(
        "store_id",
        "sku",
        F.to_date(F.col("date_key").cast("string"), "yyyyMMdd").alias("day"),
        "sold",
        F.col("closing_on_hand").alias("closing"),
    )
