"""Open PostgreSQL connections per caller, reused only by a request with the same credentials.

Every request runs as the caller's own login (row-level security decides what it sees), so the
API cannot share one pool of loader connections the way most services do. Opening a connection
as the login costs more than the request itself (measured by the API bench: about 56 ms of
connection and authentication against 4-10 ms of query), so a finished request leaves its
connection here, keyed by login and password, for the next request that brings the same pair.

What this keeps and what it does not:
- A connection is handed only to a request whose login and password match the ones it was
  opened with (compared as keyed digests; no password is kept in the clear). A wrong password
  finds no connection and is refused by PostgreSQL, as without the pool.
- Privileges and row-level security are checked by PostgreSQL on every statement, so a grant or
  a store access changed in gold applies at once to pooled connections too.
- A password changed (or a login dropped) in PostgreSQL stops being honoured by pooled
  connections when they close: after API_POOL_IDLE_SECONDS without use, and in any case
  API_POOL_IDLE_SECONDS x 5 after they were opened.
- Only connections back in a clean state (no open transaction) are kept; a broken one is closed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2.extensions

from lakehouse.gold_access import Viewer

Connection = psycopg2.extensions.connection
# How many idle lifetimes a connection may live in all, however busy.
MAX_AGE_IN_IDLE_PERIODS = 5


@dataclass
class _Idle:
    connection: Connection
    opened_at: float
    returned_at: float


class ConnectionPool:
    """Idle connections by caller; `connection(viewer)` lends one or opens a new one."""

    def __init__(
        self,
        open_connection: Callable[[Viewer], Connection],
        per_login: int,
        idle_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = open_connection
        self._per_login = per_login
        self._idle_seconds = idle_seconds
        self._max_age = idle_seconds * MAX_AGE_IN_IDLE_PERIODS
        self._clock = clock
        self._secret = secrets.token_bytes(32)  # digests mean nothing outside this process
        self._lock = threading.Lock()
        self._idle: dict[bytes, list[_Idle]] = {}
        self._sweeper: threading.Thread | None = None
        self._closed = threading.Event()

    def _key(self, viewer: Viewer) -> bytes:
        pair = f"{viewer.login}\0{viewer.password}".encode()
        return hmac.new(self._secret, pair, hashlib.sha256).digest()

    def _expired(self, idle: _Idle, now: float) -> bool:
        return now - idle.returned_at > self._idle_seconds or now - idle.opened_at > self._max_age

    def _take(self, key: bytes) -> tuple[Connection, float] | None:
        now = self._clock()
        with self._lock:
            waiting = self._idle.get(key, [])
            while waiting:
                idle = waiting.pop()
                if not self._expired(idle, now) and idle.connection.closed == 0:
                    return idle.connection, idle.opened_at
                idle.connection.close()
        return None

    def _give_back(self, key: bytes, connection: Connection, opened_at: float) -> None:
        now = self._clock()
        clean = connection.closed == 0 and (
            connection.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
        )
        idle = _Idle(connection, opened_at, now)
        with self._lock:
            waiting = self._idle.setdefault(key, [])
            if clean and not self._expired(idle, now) and len(waiting) < self._per_login:
                waiting.append(idle)
                return
        connection.close()

    @contextmanager
    def connection(self, viewer: Viewer) -> Iterator[Connection]:
        """A connection as `viewer`, returned to the pool (or closed) at the end of the block."""
        self._start_sweeper()
        key = self._key(viewer)
        taken = self._take(key)
        if taken is None:
            taken = (self._open(viewer), self._clock())
        connection, opened_at = taken
        try:
            yield connection
        finally:
            self._give_back(key, connection, opened_at)

    def sweep(self) -> int:
        """Close every idle connection past its time; returns how many are still idle."""
        now = self._clock()
        with self._lock:
            for key, waiting in list(self._idle.items()):
                for idle in [idle for idle in waiting if self._expired(idle, now)]:
                    waiting.remove(idle)
                    idle.connection.close()
                if not waiting:
                    del self._idle[key]
            return sum(len(waiting) for waiting in self._idle.values())

    def _start_sweeper(self) -> None:
        """A daemon thread that closes connections left idle when no request comes to do it."""
        if self._sweeper is not None:
            return
        with self._lock:
            if self._sweeper is None:
                self._sweeper = threading.Thread(target=self._sweep_forever, name="pool-sweeper", daemon=True)
                self._sweeper.start()

    def _sweep_forever(self) -> None:
        while not self._closed.wait(max(1.0, self._idle_seconds / 2)):
            self.sweep()

    def close(self) -> None:
        """Close every idle connection (at shutdown); lent ones close when given back."""
        self._closed.set()
        with self._lock:
            for waiting in self._idle.values():
                for idle in waiting:
                    idle.connection.close()
            self._idle.clear()
            self._per_login = 0
