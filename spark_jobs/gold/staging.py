"""The staging tables of a gold load: each table's columns listed once, and all else follows.

A load COPYs the job's DataFrames into temporary staging tables, then merges them into gold with
the statements in `sql/gold/load/` (and the alert lifecycle's in `sql/gold/alerts/`). The
temporary tables are created from these lists, the job selects its DataFrames' columns by them
(`job.staging_frames`), and COPY and the CSV lines follow their order. The merge statements name
the columns again, where a reader of the SQL expects them; tests/unit/test_gold_columns.py holds
those statements and the migrations' DDL to these lists, so the places cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg2 import sql
from psycopg2.extras import execute_values


@dataclass(frozen=True)
class StagingTable:
    """A temporary table, the gold table it feeds, and its (column, PostgreSQL type) in COPY order."""

    name: str
    target: str
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def create(self, cursor) -> None:
        """Create the table for this transaction only: it is dropped at commit or rollback."""
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in self.columns
        )
        cursor.execute(
            sql.SQL("create temp table {} ({}) on commit drop").format(sql.Identifier(self.name), definition)
        )

    def fill(self, cursor, rows: Iterable[tuple]) -> None:
        """Create the table and insert `rows` (tuples in column order): for rows computed in Python,
        too few to be worth a COPY."""
        self.create(cursor)
        insert = sql.SQL("insert into {} ({}) values %s").format(
            sql.Identifier(self.name), sql.SQL(", ").join(map(sql.Identifier, self.column_names))
        )
        execute_values(cursor, insert.as_string(cursor), list(rows), page_size=5000)


DIM_STORE = StagingTable(
    "stg_dim_store",
    "dim_store",
    (
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
)
DIM_PRODUCT = StagingTable(
    "stg_dim_product",
    "dim_product",
    (
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
)
FACT_SALES = StagingTable(
    "stg_fact_sales",
    "fact_sales",
    (
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
)
INVENTORY_SNAPSHOT = StagingTable(
    "stg_inventory_snapshot",
    "fact_inventory_snapshot",
    (
        ("store_id", "text"),
        ("sku", "text"),
        ("calendar_date", "date"),  # the merge looks up its date_key in dim_date
        ("opening_on_hand", "integer"),
        ("sold", "integer"),
        ("received", "integer"),
        ("count_adjustment", "integer"),
        ("closing_on_hand", "integer"),
        ("safety_stock", "numeric"),
        ("reorder_point", "numeric"),
        ("risk", "text"),
    ),
)
STOCK_POSITION = StagingTable(
    "stg_stock_position",
    "stock_position",
    (
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
        ("on_order", "integer"),
        ("inventory_position", "integer"),
        ("next_receipt_at", "timestamptz"),
        ("last_receipt_at", "timestamptz"),
        ("promotion_elasticity", "numeric"),
        ("demand_dispersion", "numeric"),
        ("stockout_probability_raw", "numeric"),  # calibrated by the load (stg_calibrated_probability)
        ("stockout_probability_1d", "numeric"),
        ("expected_stockout_date", "date"),
        ("model_version", "text"),
    ),
)
STOCK_FORECAST = StagingTable(
    "stg_stock_forecast",
    "stock_forecast",
    (
        ("store_id", "text"),
        ("sku", "text"),
        ("forecast_date", "date"),
        ("forecast_units", "numeric"),
        ("model_version", "text"),
    ),
)
OPEN_ORDERS = StagingTable(
    "stg_open_orders",
    "open_orders",
    (
        ("store_id", "text"),
        ("sku", "text"),
        ("order_id", "text"),
        ("supplier_id", "text"),
        ("ordered_at", "timestamptz"),
        ("expected_at", "timestamptz"),
        ("ordered", "integer"),
        ("status", "text"),
    ),
)
PROMOTION_CALENDAR = StagingTable(
    "stg_promotion_calendar",
    "promotion_calendar",
    (
        ("store_id", "text"),
        ("sku", "text"),
        ("calendar_date", "date"),
        ("promotion_id", "text"),
        ("discount_percent", "integer"),
        ("announced_at", "timestamptz"),
    ),
)
# What a load stages, in the order it stages it, by name.
STAGING: dict[str, StagingTable] = {
    table.name: table
    for table in (
        DIM_STORE,
        DIM_PRODUCT,
        FACT_SALES,
        INVENTORY_SNAPSHOT,
        STOCK_POSITION,
        STOCK_FORECAST,
        OPEN_ORDERS,
        PROMOTION_CALENDAR,
    )
}

# The calibrated probability of each staged position (calibration.py), written by the load itself.
CALIBRATED_PROBABILITY = StagingTable(
    "stg_calibrated_probability",
    "stock_position",
    (
        ("store_id", "text"),
        ("sku", "text"),
        ("stockout_probability", "numeric"),
    ),
)

# The alert conditions a load found (alerts.AlertCondition, field for field), for the lifecycle.
ALERT_CONDITIONS = StagingTable(
    "stg_alert_conditions",
    "stock_alerts",
    (
        ("store_id", "text"),
        ("sku", "text"),
        ("kind", "text"),
        ("severity", "text"),
        ("on_hand", "integer"),
        ("reorder_point", "numeric"),
        ("predicted_stockout_date", "date"),
        ("recommended_order_qty", "integer"),
        ("on_order", "integer"),
        ("stockout_probability", "numeric"),
        ("expected_stockout_date", "date"),
    ),
)
