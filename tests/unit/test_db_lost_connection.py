"""What a transaction cut short by a lost PostgreSQL tells the user (lakehouse/db.py)."""

from __future__ import annotations

import psycopg2
import pytest

from lakehouse.config import read_settings
from lakehouse.db import ConnectionLostError, _database_error, lost_connection_message

pytestmark = pytest.mark.unit

SETTINGS = read_settings(env_file=None, environ={"POSTGRES_PORT": "6543", "POSTGRES_DB": "lake"})


def test_the_message_says_where_what_it_left_and_what_to_do():
    lost = psycopg2.OperationalError("terminating connection due to unexpected postmaster exit\nCONTEXT: x")
    message = lost_connection_message(SETTINGS, lost)
    assert "6543, database lake" in message
    assert "unexpected postmaster exit." in message and "CONTEXT" not in message
    assert "none of this transaction's writes are in the database" in message
    assert "make up" in message and "run this step again" in message


def test_the_database_error_is_found_behind_the_error_psycopg2_copy_raises():
    lost = psycopg2.OperationalError("server closed the connection unexpectedly")
    try:
        try:
            raise lost
        except psycopg2.Error as error:
            raise SystemError("<function decode> returned a result with an exception set") from error
    except SystemError as wrapped:
        assert _database_error(wrapped) is lost
    unrelated = ValueError("no database error behind this")
    assert _database_error(unrelated) is unrelated


def test_a_lost_connection_is_still_an_operational_error_for_code_that_retries_on_one():
    assert issubclass(ConnectionLostError, psycopg2.OperationalError)
