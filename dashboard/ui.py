"""Figures with their numbers one click away: each chart has a table and a CSV download under it."""

from __future__ import annotations

import re

import altair as alt
import pandas as pd
import streamlit as st


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _rows_and_csv(title: str, frame: pd.DataFrame) -> None:
    """The rows, and their CSV written only when someone clicks (not on every run of the page)."""
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(
        "Download CSV",
        lambda: frame.to_csv(index=False).encode(),
        file_name=f"{_slug(title)}.csv",
        mime="text/csv",
        key=f"csv-{_slug(title)}",
        on_click="ignore",
    )


def numbers(title: str, frame: pd.DataFrame) -> None:
    """The figure's rows as a table and a CSV file, behind one click."""
    with st.expander(f"Numbers: {title}"):
        _rows_and_csv(title, frame)


def figure(title: str, chart: alt.Chart | None, frame: pd.DataFrame, caption: str | None = None) -> None:
    """A chart (or only the table when there is none), then its numbers."""
    st.subheader(title)
    if caption:
        st.caption(caption)
    if frame.empty:
        st.info("Nothing to show yet for the chosen stores.")
        return
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    numbers(title, frame)


def table(title: str, frame: pd.DataFrame, caption: str | None = None) -> None:
    """A list people act on: the table itself, with its CSV download."""
    st.subheader(title)
    if caption:
        st.caption(caption)
    if frame.empty:
        st.info("Nothing to show for the chosen stores.")
        return
    _rows_and_csv(title, frame)
