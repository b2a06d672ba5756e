"""The dashboard: store performance, inventory risk, alerts, customer behaviour and pipeline health
in a browser (Streamlit, `make dashboard`), for store managers and analysts.

It runs in its own virtualenv (`.venv-dashboard`, requirements/dashboard.lock) and imports
nothing of the project but `lakehouse.config`, which needs only the standard library. Every
figure comes from gold's views (sql/gold/views/) through the query files of
sql/gold/queries/dashboard/, run as the viewer's own PostgreSQL login (`gold.py`), so row-level
security decides what each person sees.
"""
