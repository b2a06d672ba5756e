"""The dashboard's entry point: `streamlit run dashboard/app.py` (`make dashboard`).

A viewer signs in with their own PostgreSQL login; the login's gold role (gold_analyst or
gold_store_manager) and row-level security decide which stores every page shows. A login that
bypasses row-level security (a superuser, the loader) is refused: it would see every store.
"""

from __future__ import annotations

import streamlit as st

from dashboard.gold import Gold, GoldError, Role, Viewer
from dashboard.screens import PAGES
from lakehouse.config import ConfigError, load_settings
from lakehouse.gold_access import loader_refusal, refusal


def sign_in(settings) -> None:
    st.title("stock-lakehouse")
    st.write(
        "Sign in with your own PostgreSQL login. A store manager sees the stores gold's "
        "`store_access` lists for the login; an analyst sees every store."
    )
    with st.form("sign-in"):
        login = st.text_input("Login")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    if not login.strip():
        st.error("Enter your login.")
        return
    problem = loader_refusal(settings, login.strip())
    if problem:
        st.error(problem)
        return
    viewer = Viewer(login.strip(), password)
    try:
        role = Gold(settings, viewer).role()
    except GoldError as error:
        st.error(str(error))
        return
    problem = refusal(role)
    if problem:
        st.error(problem)
        return
    st.session_state["viewer"] = viewer
    st.session_state["role"] = role
    st.rerun()


def main() -> None:
    st.set_page_config(page_title="stock-lakehouse", layout="wide")
    try:
        settings = load_settings()
    except ConfigError as error:
        st.error(f"The configuration is not valid: {error}")
        return
    viewer: Viewer | None = st.session_state.get("viewer")
    if viewer is None:
        sign_in(settings)
        return
    role: Role = st.session_state["role"]
    gold = Gold(settings, viewer)
    kind = "analyst" if role.is_analyst else "store manager"
    st.sidebar.markdown(f"Signed in as **{role.login}** ({kind})")
    if st.sidebar.button("Sign out"):
        st.session_state.clear()
        st.rerun()
    title = st.sidebar.radio("Page", list(PAGES), key="page")
    try:
        with gold.one_connection():
            show(gold, role, title)
    except GoldError as error:
        st.error(str(error))


def show(gold: Gold, role: Role, title: str) -> None:
    """The sidebar's store filter, then the page `title` for the chosen stores."""
    stores = gold.read("stores")
    if stores.empty:
        st.warning(f"{role.login} sees no store: gold's store_access lists none for this login.")
        return
    labels = {row.store_id: f"{row.store_id} {row.store_name}" for row in stores.itertuples()}
    chosen = st.sidebar.multiselect(
        "Stores", list(labels), default=list(labels), format_func=labels.get, key="stores"
    )
    if not chosen:
        st.info("Choose at least one store in the sidebar.")
        return
    PAGES[title].render(gold, role, chosen)


main()
