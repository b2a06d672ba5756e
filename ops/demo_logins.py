"""The dashboard's demo logins: `demo_analyst` (gold_analyst, every store) and `demo_manager`
(gold_store_manager, the first two stores of dim_store), PostgreSQL login roles whose passwords
live in `.env` (DASHBOARD_DEMO_ANALYST_PASSWORD, DASHBOARD_DEMO_MANAGER_PASSWORD).

`python -m ops.demo_logins passwords` (run by `make setup`) fills those two variables with
generated passwords when they are empty and keeps `.env` at mode 0600; `make demo` then creates
the roles, or sets their passwords to what `.env` says, and grants the manager its stores, with
`make gold-user`'s own code (ops/gold_users.py).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql

from lakehouse.config import ENV_EXAMPLE_FILE, ENV_FILE, Settings, load_settings, read_env_file
from lakehouse.db import connect
from ops.gold_users import ensure_gold_login

PASSWORD_VARIABLES = ("DASHBOARD_DEMO_ANALYST_PASSWORD", "DASHBOARD_DEMO_MANAGER_PASSWORD")
MANAGER_STORES = 2


@dataclass(frozen=True)
class DemoLogins:
    analyst: str
    manager: str
    manager_stores: list[str]


def ensure_passwords(env_file: Path = ENV_FILE) -> list[str]:
    """Fill the empty demo passwords of `.env` (created from .env.example if missing); 0600 always."""
    if not env_file.exists():
        old = os.umask(0o077)
        try:
            env_file.write_text(ENV_EXAMPLE_FILE.read_text())
        finally:
            os.umask(old)
    env_file.chmod(0o600)
    values = read_env_file(env_file)
    filled = []
    text = env_file.read_text()
    for name in PASSWORD_VARIABLES:
        if values.get(name):
            continue
        line = re.compile(rf"^{re.escape(name)}=.*$", re.MULTILINE)
        value = f"{name}={secrets.token_urlsafe(24)}"
        text = line.sub(value, text, count=1) if line.search(text) else f"{text.rstrip()}\n{value}\n"
        filled.append(name)
    env_file.write_text(text)
    return filled


def ensure_demo_logins(
    settings: Settings, analyst: str = "demo_analyst", manager: str = "demo_manager"
) -> DemoLogins:
    """Create (or re-password) the two demo logins and give the manager the first two stores."""
    passwords = (settings.dashboard.demo_analyst_password, settings.dashboard.demo_manager_password)
    if not all(passwords):
        raise SystemExit(
            "the demo logins' passwords are empty: run `make setup` (it writes them into .env), "
            "or set DASHBOARD_DEMO_ANALYST_PASSWORD and DASHBOARD_DEMO_MANAGER_PASSWORD"
        )
    schema = settings.gold.schema
    with connect(settings, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("select store_id from {} order by store_id limit %s").format(
                sql.Identifier(schema, "dim_store")
            ),
            (MANAGER_STORES,),
        )
        stores = [store for (store,) in cursor.fetchall()]
        ensure_gold_login(cursor, schema, analyst, "analyst", passwords[0])
        ensure_gold_login(cursor, schema, manager, "manager", passwords[1], stores)
    return DemoLogins(analyst, manager, stores)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.demo_logins", description=__doc__)
    parser.add_argument("command", choices=["passwords", "create"])
    arguments = parser.parse_args(argv)
    if arguments.command == "passwords":
        filled = ensure_passwords()
        if filled:
            print(f"generated {', '.join(filled)} into .env (mode 0600)")
        return 0
    logins = ensure_demo_logins(load_settings())
    print(
        f"demo logins: {logins.analyst} (every store), {logins.manager} ({', '.join(logins.manager_stores)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
