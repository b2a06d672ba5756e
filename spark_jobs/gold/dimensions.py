"""Dimension rows from silver's reference snapshots: stores (type 1) and product versions (type 2)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# Product attributes that change in place (type 1); unit_cost and price open a new version.
PRODUCT_TYPE_1 = ("name", "category", "brand", "supplier_id", "lead_time_days")


def latest_stores(stores: DataFrame) -> DataFrame:
    """One row per store: its newest snapshot, in the column order of stg_dim_store."""
    newest = Window.partitionBy("store_id").orderBy(F.col("event_time").desc())
    return (
        stores.withColumn("rank", F.row_number().over(newest))
        .where(F.col("rank") == 1)
        .select(
            "store_id",
            F.col("name").alias("store_name"),
            "region",
            "city",
            "state",
            "manager",
            "timezone",
            F.col("size").alias("store_size"),
            "square_meters",
            "opens_at",
            "closes_at",
            F.col("event_time").alias("snapshot_at"),
        )
    )


def product_versions(products: DataFrame) -> DataFrame:
    """One row per SKU and price-cost version, in the column order of stg_dim_product.

    A version starts at the first snapshot whose unit_cost or price differs from the one before,
    and ends where the next starts. The first version's valid_from is null (gold stores
    '-infinity'), so a sale from before the first snapshot still finds its product. Type 1
    attributes come from the newest snapshot, on every version.
    """
    by_time = Window.partitionBy("sku").orderBy("event_time")
    previous_cost, previous_price = F.lag("unit_cost").over(by_time), F.lag("price").over(by_time)
    changed = (
        previous_cost.isNull() | (F.col("unit_cost") != previous_cost) | (F.col("price") != previous_price)
    )
    starts = (
        products.withColumn("changed", changed)
        .where(F.col("changed"))
        .withColumn("valid_to", F.lead("event_time").over(by_time))
        .withColumn("is_first", F.row_number().over(by_time) == 1)
        .select(
            "sku",
            "unit_cost",
            "price",
            F.when(F.col("is_first"), F.lit(None))
            .otherwise(F.col("event_time"))
            .cast("timestamp")
            .alias("valid_from"),
            "valid_to",
        )
    )
    newest = Window.partitionBy("sku").orderBy(F.col("event_time").desc())
    latest = (
        products.withColumn("rank", F.row_number().over(newest))
        .where(F.col("rank") == 1)
        .select("sku", *PRODUCT_TYPE_1)
    )
    return starts.join(latest, "sku").select(
        "sku",
        F.col("name").alias("product_name"),
        "category",
        "brand",
        "supplier_id",
        "lead_time_days",
        "unit_cost",
        "price",
        "valid_from",
        "valid_to",
    )
