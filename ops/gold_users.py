"""Gold's logins for people: an analyst (every store, writes nothing) or a store manager (only the
stores `gold.store_access` lists for it), each a PostgreSQL LOGIN role in gold_analyst or
gold_store_manager (sql/gold/migrations/011_roles_and_row_security.sql).

    make gold-user NAME=mgr_north ROLE=manager STORES=S001,S002   # password generated, shown once
    make gold-user NAME=ana ROLE=analyst ASK=1                      # password read from the terminal
    make gold-user NAME=mgr_north DROP=1                            # remove the login

Run again for an existing login, it sets a new password and exactly the role and stores given:
that is how a password is rotated or a manager's stores changed. It connects as the owner role,
and touches only logins that are gold's: never the loader, the owner or any other role.
The dashboard's demo logins (ops/demo_logins.py) are made by the same `ensure_gold_login`.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from dataclasses import dataclass

from psycopg2 import sql

from lakehouse.config import Settings, check_schema_name, load_settings
from lakehouse.db import connect
from ops.stack.private_files import new_password

GROUPS = {"analyst": "gold_analyst", "manager": "gold_store_manager"}
_LOGIN_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_STORE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class GoldUserError(ValueError):
    """The login cannot be made or removed as asked; the message says why."""


@dataclass(frozen=True)
class GoldLogin:
    name: str
    group: str
    stores: tuple[str, ...]
    created: bool
    unknown_stores: tuple[str, ...]  # not (yet) in dim_store: granted all the same


def _is_gold_login(cursor, name: str) -> bool | None:
    """None when no role has the name; else whether it is a login of gold's and nothing more."""
    cursor.execute(
        """
        select not (r.rolsuper or r.rolbypassrls or r.rolcreaterole or r.rolcreatedb or r.rolreplication)
               and exists (select from pg_auth_members as m join pg_roles as g on g.oid = m.roleid
                           where m.member = r.oid and g.rolname = any(%s))
               and not exists (select from pg_auth_members as m join pg_roles as g on g.oid = m.roleid
                               where m.member = r.oid and g.rolname <> all(%s))
        from pg_roles as r where r.rolname = %s
        """,
        (list(GROUPS.values()), list(GROUPS.values()), name),
    )
    row = cursor.fetchone()
    return None if row is None else row[0]


def ensure_gold_login(
    cursor, schema: str, name: str, role: str, password: str, stores: list[str] | tuple[str, ...] = ()
) -> GoldLogin:
    """Create login `name` (or reset it) in `role`'s group with `password`, seeing exactly `stores`."""
    if not _LOGIN_NAME.match(name):
        raise GoldUserError(f"NAME={name!r}: use lower-case letters, digits and _ (at most 63)")
    if role not in GROUPS:
        raise GoldUserError(f"ROLE={role!r}: use analyst or manager")
    stores = tuple(dict.fromkeys(store.strip() for store in stores if store.strip()))
    if role == "manager" and not stores:
        raise GoldUserError("a manager needs its stores: STORES=S001,S002")
    if role == "analyst" and stores:
        raise GoldUserError("an analyst sees every store: leave STORES out")
    bad = [store for store in stores if not _STORE_ID.match(store)]
    if bad:
        raise GoldUserError(f"STORES: {', '.join(bad)} are not store ids (letters, digits, _ and -)")
    if not password:
        raise GoldUserError("the password is empty")
    existing = _is_gold_login(cursor, name)
    if existing is False:
        raise GoldUserError(f"{name} is a role of another kind (not only a gold login): choose another NAME")
    login, group = sql.Identifier(name), GROUPS[role]
    verb = "create" if existing is None else "alter"
    cursor.execute(sql.SQL(verb + " role {} login password %s").format(login), (password,))
    for other in GROUPS.values():
        if other != group and existing:
            cursor.execute(
                "select 1 from pg_auth_members as m join pg_roles as g on g.oid = m.roleid "
                "join pg_roles as r on r.oid = m.member where g.rolname = %s and r.rolname = %s",
                (other, name),
            )
            if cursor.fetchone():
                cursor.execute(sql.SQL("revoke {} from {}").format(sql.Identifier(other), login))
    cursor.execute(sql.SQL("grant {} to {}").format(sql.Identifier(group), login))
    store_access = sql.Identifier(schema, "store_access")
    cursor.execute(sql.SQL("delete from {} where role_name = %s").format(store_access), (name,))
    cursor.executemany(
        sql.SQL("insert into {} (role_name, store_id) values (%s, %s)").format(store_access),
        [(name, store) for store in stores],
    )
    cursor.execute(
        sql.SQL("select unnest(%s::text[]) except select store_id from {}").format(
            sql.Identifier(schema, "dim_store")
        ),
        (list(stores),),
    )
    unknown = tuple(sorted(store for (store,) in cursor.fetchall()))
    return GoldLogin(name, group, stores, existing is None, unknown)


def drop_gold_login(cursor, schema: str, name: str) -> bool:
    """Remove a gold login and its store access; False when there was none."""
    existing = _is_gold_login(cursor, name)
    if existing is None:
        return False
    if not existing:
        raise GoldUserError(f"{name} is not a gold login (it has other roles or attributes): not dropped")
    cursor.execute(
        sql.SQL("delete from {} where role_name = %s").format(sql.Identifier(schema, "store_access")), (name,)
    )
    cursor.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))
    return True


def _read_password() -> str:
    first = getpass.getpass("password for the new login: ")
    if first != getpass.getpass("again: "):
        raise GoldUserError("the two passwords differ")
    return first


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.gold_users", description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--role", default="", help="analyst or manager")
    parser.add_argument("--stores", default="", help="comma-separated store ids, for a manager")
    parser.add_argument("--drop", action="store_true", help="remove the login")
    parser.add_argument("--ask-password", action="store_true", help="read the password from the terminal")
    parser.add_argument("--schema", help="gold schema (default GOLD_SCHEMA)")
    arguments = parser.parse_args(argv)
    settings = settings or load_settings()
    schema = check_schema_name(arguments.schema or settings.gold.schema)
    try:
        with connect(settings, owner=True) as connection, connection.cursor() as cursor:
            if arguments.drop:
                dropped = drop_gold_login(cursor, schema, arguments.name)
                print(f"dropped login {arguments.name}" if dropped else f"no login {arguments.name} to drop")
                return 0
            password = _read_password() if arguments.ask_password else new_password()
            login = ensure_gold_login(
                cursor, schema, arguments.name, arguments.role, password, arguments.stores.split(",")
            )
    except GoldUserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sees = f"stores {', '.join(login.stores)}" if login.stores else "every store"
    print(f"{'created' if login.created else 'reset'} login {login.name} ({login.group}; {sees})")
    if login.unknown_stores:
        print(f"note: {', '.join(login.unknown_stores)} not in {schema}.dim_store yet; granted all the same")
    if not arguments.ask_password:
        print(f"password (shown this once, stored nowhere): {password}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
