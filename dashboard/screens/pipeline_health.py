"""Pipeline health: per layer the newest event and how far behind it is, the last Mage runs,
gold's loads, bronze objects silver holds back, quarantined lines by reason over time with
samples, and silver's quality gate.

Analysts only: bronze, silver and Mage know no PostgreSQL login, and quarantined payloads hold
every store's raw events.
"""

from __future__ import annotations

from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import lake
from dashboard.gold import Gold, Role
from dashboard.ui import figure, table


@st.cache_data(ttl=30, show_spinner=False)
def _probe(name: str, _settings, key: str):
    """A lake probe's answer, cached for 30 s (key names the settings it read)."""
    return getattr(lake, name)(_settings)


def _attempt(name: str, settings):
    key = f"{settings.silver_bucket}/{settings.bronze_bucket}/{settings.mage_url}"
    try:
        return _probe(name, settings, key), None
    except lake.LakeError as error:
        return None, str(error)


def _age(moment) -> float | None:
    if moment is None or pd.isna(moment):
        return None
    moment = pd.Timestamp(moment)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment
    return round((datetime.now(UTC) - moment).total_seconds(), 1)


def render(gold: Gold, role: Role, stores: list[str]) -> None:
    st.title("Pipeline health")
    if not role.is_analyst:
        st.info(
            "Pipeline health is for analysts: quarantined events and pipeline runs cover every store. "
            "Ask an analyst if a figure looks stale."
        )
        return
    settings = gold.settings
    layers, problems = [], []

    bronze, problem = _attempt("bronze_newest_object", settings)
    problems.append(problem)
    layers.append({"layer": "bronze", "newest_event": None, "last_written": bronze})
    silver, problem = _attempt("silver_newest", settings)
    problems.append(problem)
    newest_event, newest_load = silver or (None, None)
    layers.append({"layer": "silver", "newest_event": newest_event, "last_written": newest_load})
    loads = gold.read("gold_loads", top=20)
    latest = loads.iloc[0] if not loads.empty else None
    layers.append(
        {
            "layer": "gold",
            "newest_event": None if latest is None else latest["newest_event"],
            "last_written": None if latest is None else latest["finished_at"],
        }
    )
    frame = pd.DataFrame(layers)
    frame["event_lag_seconds"] = frame["newest_event"].map(_age)
    frame["seconds_since_write"] = frame["last_written"].map(_age)
    table(
        "Each layer: newest event and lag",
        frame,
        "Lag: now minus the newest event the layer holds (bronze objects carry no event time; their write "
        "time shows). Since write: how long ago the layer last took data.",
    )
    for problem in filter(None, problems):
        st.warning(problem)

    runs, problem = _attempt("mage_runs", settings)
    if problem:
        st.warning(problem)
    else:
        table("Last Mage runs of each pipeline", runs)
    table("Gold's last loads", loads)

    _held(gold)
    _quarantine(settings)
    _quality(settings)


def _held(gold: Gold) -> None:
    held = gold.read("held_objects")
    table(
        f"Held bronze objects: {len(held)}",
        held,
        "Objects whose batch failed a critical quality gate: silver skips them so later objects flow "
        "on. `make held` lists them, `make replay-held` takes them again once the cause is fixed.",
    )


def _quarantine(settings) -> None:
    rows, problem = _attempt("quarantine", settings)
    if problem:
        st.subheader("Quarantine by reason")
        st.warning(problem)
        return
    counts = rows.groupby(["ingest_date", "reason"], as_index=False).size().rename(columns={"size": "lines"})
    chart = (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("ingest_date:T", title="ingest day"),
            y=alt.Y("lines:Q"),
            color="reason:N",
            tooltip=["ingest_date", "reason", "lines"],
        )
        if not counts.empty
        else None
    )
    figure("Quarantine by reason over time (last 30 days)", chart, counts)
    if rows.empty:
        return
    reason = st.selectbox("Samples of reason", sorted(rows["reason"].unique()), key="quarantine-reason")
    samples = rows[rows["reason"] == reason].sort_values("quarantined_at", ascending=False).head(10)
    samples = samples.assign(payload=samples["payload"].str.slice(0, 300))
    table(f"Quarantined samples: {reason}", samples)


def _quality(settings) -> None:
    results, problem = _attempt("quality_results", settings)
    if problem:
        st.subheader("Quality gate")
        st.warning(problem)
        return
    if results.empty:
        figure("Quality gate results", None, results)
        return
    results = results.sort_values("checked_at")
    last_run = results[results["run_id"] == results["run_id"].iloc[-1]]
    table("Quality gate: the latest run's expectations", last_run)
    failed = results[~results["success"]]
    by_day = (
        failed.assign(day=pd.to_datetime(failed["checked_at"]).dt.date)
        .groupby(["day", "severity"], as_index=False)
        .size()
        .rename(columns={"size": "failed_expectations"})
    )
    chart = (
        alt.Chart(by_day)
        .mark_bar()
        .encode(
            x=alt.X("day:T"),
            y="failed_expectations:Q",
            color="severity:N",
            tooltip=["day", "severity", "failed_expectations"],
        )
        if not by_day.empty
        else None
    )
    figure("Quality gate: failed expectations per day (last 30 days)", chart, by_day)
