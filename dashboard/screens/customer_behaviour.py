"""Customer behaviour: cross-sell pairs by lift with their attach rate, loyalty spend per visit
against anonymous shoppers, and the basket size distribution (v_cross_sell_lift,
v_loyalty_spend, v_basket_sizes), over the last 28 days of sales."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.gold import Gold, Role
from dashboard.ui import figure


def render(gold: Gold, role: Role, stores: list[str]) -> None:
    st.title("Customer behaviour")
    st.caption("Last 28 days of sales in gold.")

    min_baskets = st.number_input(
        "Pairs seen in at least this many baskets", 1, 10_000, 20, key="min-baskets"
    )
    pairs = gold.read("cross_sell_lift", min_baskets=int(min_baskets), top=25)
    if not pairs.empty:
        pairs["pair"] = pairs["sku"] + " + " + pairs["paired_sku"]
    chart = (
        None
        if pairs.empty
        else alt.Chart(pairs)
        .mark_bar()
        .encode(
            x=alt.X("lift:Q", title="lift (1 = chance)"),
            y=alt.Y("pair:N", sort="-x", title=None),
            color=alt.Color("attach_rate:Q", title="attach rate"),
            tooltip=[
                "product_name",
                "paired_product_name",
                "baskets_together",
                "attach_rate",
                "paired_sku_share",
                "lift",
            ],
        )
    )
    figure(
        "Top cross-sell pairs by lift",
        chart,
        pairs,
        "Attach rate: share of the baskets with the first SKU that also hold the second. "
        "Lift: attach rate over "
        "the second SKU's share of all baskets, so a best seller that is in every basket anyway does not top "
        "the list. Pairs from the baskets of the stores your login sees.",
    )

    loyalty = gold.read("loyalty_spend", stores=stores)
    spend = (
        loyalty.melt(
            id_vars=["store_id"],
            value_vars=["member_spend_per_visit", "anonymous_spend_per_visit"],
            var_name="shopper",
            value_name="spend_per_visit",
        )
        if not loyalty.empty
        else loyalty
    )
    chart = (
        None
        if loyalty.empty
        else alt.Chart(spend)
        .mark_bar()
        .encode(
            x=alt.X("store_id:N", title="store"),
            xOffset="shopper:N",
            y=alt.Y("spend_per_visit:Q"),
            color="shopper:N",
            tooltip=["store_id", "shopper", "spend_per_visit"],
        )
    )
    figure("Loyalty members against anonymous shoppers: spend per visit", chart, loyalty)

    sizes = gold.read("basket_sizes", stores=stores)
    long = (
        sizes.melt(
            id_vars=["basket_units"],
            value_vars=["member_baskets", "anonymous_baskets"],
            var_name="shopper",
            value_name="count",
        )
        if not sizes.empty
        else sizes
    )
    chart = (
        None
        if sizes.empty
        else alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("basket_units:O", title="units in the basket"),
            y=alt.Y("count:Q", title="baskets"),
            color="shopper:N",
            tooltip=["basket_units", "shopper", "count"],
        )
    )
    figure("Basket size distribution", chart, sizes)
