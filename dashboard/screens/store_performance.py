"""Store performance: revenue today against target, basket value and size, gross margin, a store x
day heatmap of revenue against target, and the 8-week trend (v_store_daily_vs_target)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.gold import Gold, Role
from dashboard.ui import figure


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    return None if not denominator else scale * numerator / denominator


def _shown(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def _heatmap(grid: pd.DataFrame) -> alt.LayerChart:
    """Store x day coloured by % of target; days without any sale in gold drawn grey, apart."""
    base = alt.Chart(grid).encode(
        x=alt.X("yearmonthdate(business_date):O", title="day"),
        y=alt.Y("store_id:N", title="store"),
        tooltip=["store_id", "business_date", "day_has_sales", "revenue", "revenue_target", "pct_of_target"],
    )
    against_target = (
        base.transform_filter(alt.datum.day_has_sales)
        .mark_rect()
        .encode(
            color=alt.Color(
                "pct_of_target:Q",
                title="% of target",
                scale=alt.Scale(scheme="redyellowgreen", domainMid=100),
            )
        )
    )
    gaps = base.transform_filter(~alt.datum.day_has_sales).mark_rect(color="#bbbbbb")
    return against_target + gaps


def render(gold: Gold, role: Role, stores: list[str]) -> None:
    days = gold.read("store_days_vs_target", stores=stores)
    st.title("Store performance")
    if days.empty:
        st.info("No sales in gold yet for the chosen stores.")
        return
    days["business_date"] = pd.to_datetime(days["business_date"])
    latest = days["business_date"].max()
    today = days[days["business_date"] == latest]
    st.caption(
        f"Business day {latest:%A %d %B %Y} (the latest with sales in gold). Targets: the one set in "
        "gold.store_daily_targets, else the average of the same weekday in the four weeks before."
    )

    revenue, target = today["revenue"].sum(), today["revenue_target"].sum()
    baskets, units = today["baskets"].sum(), today["units"].sum()
    columns = st.columns(4)
    columns[0].metric(
        "Revenue today",
        f"{revenue:,.2f}",
        _shown(_ratio(revenue, target, 100), "{:.1f} % of target"),
        delta_color="off",
    )
    columns[1].metric("Average basket value", _shown(_ratio(revenue, baskets), "{:,.2f}"))
    columns[2].metric("Average basket size (units)", _shown(_ratio(units, baskets), "{:.2f}"))
    columns[3].metric("Gross margin", _shown(_ratio(today["gross_margin"].sum(), revenue, 100), "{:.1f} %"))

    per_store = today[
        [
            "store_id",
            "store_name",
            "revenue",
            "revenue_target",
            "pct_of_target",
            "target_source",
            "baskets",
            "avg_basket_value",
            "avg_basket_units",
            "gross_margin_pct",
        ]
    ]
    bars = (
        alt.Chart(per_store)
        .mark_bar()
        .encode(
            x=alt.X("store_id:N", title="store"),
            y=alt.Y("revenue:Q", title="revenue"),
            tooltip=list(per_store.columns),
        )
    )
    ticks = (
        alt.Chart(per_store)
        .mark_tick(color="black", thickness=3, size=30)
        .encode(x="store_id:N", y=alt.Y("revenue_target:Q", title="revenue"))
    )
    figure(
        "Revenue today against target, per store",
        bars + ticks,
        per_store,
        "Bars: revenue; black ticks: target.",
    )

    grid = days[
        ["store_id", "business_date", "day_has_sales", "revenue", "revenue_target", "pct_of_target"]
    ].copy()
    figure(
        "Revenue against target, store x day",
        _heatmap(grid),
        grid,
        "Green above target, red below; 8 weeks. Grey: a day with no sale in gold in any of your "
        "stores, a gap in the data (no events reached gold for it, as between make demo's backfill "
        "and its live phase) rather than a day every store missed its target.",
    )

    weekly = (
        days.assign(week=days["business_date"].dt.to_period("W-SUN").dt.start_time)
        .groupby("week", as_index=False)[["revenue", "revenue_target", "baskets", "gross_margin"]]
        .sum()
    )
    weekly["gross_margin_pct"] = (
        100 * weekly["gross_margin"] / weekly["revenue"].where(weekly["revenue"] != 0)
    ).round(1)
    trend = (
        alt.Chart(weekly.melt(id_vars="week", value_vars=["revenue", "revenue_target"], var_name="series"))
        .mark_line(point=True)
        .encode(
            x=alt.X("week:T", title="week starting"), y=alt.Y("value:Q", title="revenue"), color="series:N"
        )
    )
    figure("Trend over 8 weeks (chosen stores)", trend, weekly)
