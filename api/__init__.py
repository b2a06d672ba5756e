"""The read API over gold (issue 19): FastAPI on API_HOST:API_PORT, run by `make api` / `make up`.

Each request runs as the caller's own PostgreSQL login (HTTP basic, or a bearer token from
POST /tokens that stands for one), in a read-only transaction with a statement timeout
(lakehouse.gold_access, shared with the dashboard), so row-level security decides what a store
manager sees exactly as in psql. Every figure comes from a file of sql/gold/queries/api/ over
gold's views. The top floor: it imports only lakehouse, and runs in its own virtualenv (.venv-api).
"""
