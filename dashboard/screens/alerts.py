"""Alerts: the open alerts of the chosen stores, acknowledgement (recorded in gold with who and
when), and the history of an alert (v_alert_episodes, alert_acknowledgements)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.gold import Gold, GoldError, Role
from dashboard.ui import figure, table

OPEN_COLUMNS = [
    "alert_id",
    "store_id",
    "sku",
    "product_name",
    "kind",
    "severity",
    "predicted_stockout_date",
    "on_hand",
    "reorder_point",
    "recommended_order_qty",
    "first_seen_at",
    "escalated_at",
    "acknowledged",
    "last_acknowledged_by",
    "last_acknowledged_at",
]


def _label(row) -> str:
    return f"#{row.alert_id} {row.store_id} {row.sku} {row.kind} ({row.severity})"


def render(gold: Gold, role: Role, stores: list[str]) -> None:
    episodes = gold.read("alert_episodes", stores=stores)
    st.title("Alerts")
    done = st.session_state.pop("acknowledged", None)
    if done:
        st.success(done)
    open_alerts = episodes[episodes["is_open"]] if not episodes.empty else episodes
    if open_alerts.empty:
        st.info("No open alerts for the chosen stores.")
    else:
        counts = (
            open_alerts.groupby(["severity", "kind"], as_index=False)
            .size()
            .rename(columns={"size": "alerts"})
        )
        chart = (
            alt.Chart(counts)
            .mark_bar()
            .encode(
                x=alt.X("severity:N", sort=["critical", "high", "medium", "low"]),
                y=alt.Y("alerts:Q"),
                color="kind:N",
                tooltip=["severity", "kind", "alerts"],
            )
        )
        figure("Open alerts by severity and kind", chart, counts)
        table(
            "Open alerts, most urgent first",
            open_alerts[OPEN_COLUMNS],
            "An alert counts as acknowledged when someone acknowledged it at its current severity or a "
            "higher "
            "one; when its severity rises it asks for attention again.",
        )
        _acknowledge(gold, open_alerts[~open_alerts["acknowledged"]])
    if not episodes.empty:
        _history(gold, episodes)


def _acknowledge(gold: Gold, waiting) -> None:
    st.subheader("Acknowledge an alert")
    if waiting.empty:
        st.info("Every open alert is acknowledged at its current severity.")
        return
    labels = {row.alert_id: _label(row) for row in waiting.itertuples()}
    with st.form("acknowledge"):
        alert_id = st.selectbox("Alert", list(labels), format_func=labels.get, key="ack-alert")
        note = st.text_input("Note (optional): what you do about it", max_chars=500, key="ack-note")
        submitted = st.form_submit_button("Acknowledge")
    if not submitted:
        return
    alert = waiting[waiting["alert_id"] == alert_id].iloc[0]
    try:
        recorded = gold.acknowledge(int(alert_id), str(alert["store_id"]), str(alert["severity"]), note)
    except GoldError as error:
        st.error(str(error))
        return
    st.session_state["acknowledged"] = (
        f"Alert #{recorded['alert_id']} acknowledged at {recorded['severity']} "
        f"by {recorded['acknowledged_by']} "
        f"at {recorded['acknowledged_at']:%Y-%m-%d %H:%M:%S %Z}."
    )
    st.rerun()


def _history(gold: Gold, episodes) -> None:
    st.subheader("History of an alert")
    labels = {
        row.alert_id: _label(row) + ("" if row.is_open else ", resolved") for row in episodes.itertuples()
    }
    alert_id = st.selectbox("Alert", list(labels), format_func=labels.get, key="history-alert")
    history = gold.read("alert_history", alert_id=int(alert_id))
    table(f"Alert {alert_id}: episodes and acknowledgements", history)
