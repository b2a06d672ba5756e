"""Inventory risk: SKUs about to run out ranked by days of cover, low-stock and overstock lists
with their value at cost, inventory turns, and the reorder list (v_current_stock,
v_inventory_risk), filtered by store, category and supplier."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.gold import Gold, Role
from dashboard.ui import figure, table

AT_RISK = ("stockout", "below_reorder_point")
# Every risk word of stock_position, in one fixed colour each: red is always a stockout.
RISK_COLOURS = {
    "stockout": "#d62728",
    "below_reorder_point": "#ff7f0e",
    "ok": "#2ca02c",
    "overstock": "#1f77b4",
}


def _cover_chart(top: pd.DataFrame, tooltip: list[str]) -> alt.LayerChart:
    """Bars of days of cover with a dot at each bar's end: a zero-length bar draws nothing, and
    the out-of-stock SKUs sort first."""
    base = alt.Chart(top).encode(
        x=alt.X("days_of_cover:Q", title="days of cover"),
        y=alt.Y("item:N", sort=None, title=None),
        color=alt.Color(
            "risk:N", scale=alt.Scale(domain=list(RISK_COLOURS), range=list(RISK_COLOURS.values()))
        ),
        tooltip=tooltip,
    )
    return base.mark_bar() + base.mark_point(filled=True, size=90, opacity=1)


def render(gold: Gold, role: Role, stores: list[str]) -> None:
    positions = gold.read("stock_positions", stores=stores)
    st.title("Inventory risk")
    if positions.empty:
        st.info("No stock positions in gold yet for the chosen stores.")
        return
    left, right = st.columns(2)
    categories = left.multiselect("Category", sorted(positions["category"].dropna().unique()), key="category")
    suppliers = right.multiselect(
        "Supplier", sorted(positions["supplier_id"].dropna().unique()), key="supplier"
    )
    if categories:
        positions = positions[positions["category"].isin(categories)]
    if suppliers:
        positions = positions[positions["supplier_id"].isin(suppliers)]

    at_risk = positions[positions["risk"].isin(AT_RISK) | positions["predicted_stockout_date"].notna()]
    at_risk = at_risk.sort_values(["days_of_cover", "store_id", "sku"], na_position="last")
    overstock = positions[positions["risk"] == "overstock"].sort_values(
        "stock_value_at_cost", ascending=False
    )
    reorder = positions[positions["recommended_order_qty"] > 0].sort_values(
        ["predicted_stockout_date", "store_id", "sku"], na_position="last"
    )

    columns = st.columns(4)
    columns[0].metric("Out of stock", int((positions["risk"] == "stockout").sum()))
    columns[1].metric("Below reorder point", int((positions["risk"] == "below_reorder_point").sum()))
    columns[2].metric("Overstock value at cost", f"{overstock['stock_value_at_cost'].sum():,.2f}")
    columns[3].metric("Reorder value at cost", f"{reorder['order_value_at_cost'].sum():,.2f}")

    ranked = at_risk[
        [
            "store_id",
            "sku",
            "product_name",
            "category",
            "supplier_id",
            "risk",
            "on_hand",
            "reorder_point",
            "days_of_cover",
            "predicted_stockout_date",
            "daily_demand",
            "stock_value_at_cost",
        ]
    ]
    top = ranked.head(25).assign(item=lambda frame: frame["store_id"] + " " + frame["sku"])
    figure(
        "SKUs at risk of stockout, fewest days of cover first",
        _cover_chart(top, list(ranked.columns)),
        ranked,
        "A dot marks where each bar ends, so an SKU already out of stock (0 days of cover, no bar) "
        "still shows, in the stockout colour.",
    )

    low = ranked[ranked["risk"].isin(AT_RISK)]
    table("Low stock, with value at cost", low)
    table(
        "Overstock, with value at cost",
        overstock[
            [
                "store_id",
                "sku",
                "product_name",
                "category",
                "supplier_id",
                "on_hand",
                "days_of_cover",
                "stock_value_at_cost",
                "inventory_turns",
            ]
        ],
    )

    turns = (
        positions.groupby("category", as_index=False)
        .agg(
            inventory_turns=("inventory_turns", "mean"),
            units_sold_28d=("units_sold_28d", "sum"),
            stock_value_at_cost=("stock_value_at_cost", "sum"),
        )
        .round({"inventory_turns": 1})
    )
    turns_chart = (
        alt.Chart(turns)
        .mark_bar()
        .encode(
            x=alt.X("category:N"),
            y=alt.Y("inventory_turns:Q", title="inventory turns (annualised)"),
            tooltip=list(turns.columns),
        )
    )
    figure("Inventory turns by category (last 28 days, annualised)", turns_chart, turns)

    table(
        "Reorder list",
        reorder[
            [
                "store_id",
                "sku",
                "product_name",
                "supplier_id",
                "on_hand",
                "reorder_point",
                "predicted_stockout_date",
                "recommended_order_qty",
                "unit_cost",
                "order_value_at_cost",
            ]
        ],
        "Order-up-to quantities from gold's stock model; value at the product's current unit cost.",
    )
