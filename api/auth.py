"""Who is calling: HTTP basic credentials, or a bearer token that stands for a login.

The API holds no database password of its own. A login's password comes with every basic request;
POST /tokens checks it once and returns a random token that stands for the login for
API_TOKEN_TTL_SECONDS. Tokens live only in this process's memory (as SHA-256 digests beside the
credentials they stand for): a restart forgets them, and nothing is written to disk.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from lakehouse.gold_access import Viewer


class Unauthenticated(Exception):
    """No credentials, or credentials that name no caller (a 401)."""


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: float


class TokenStore:
    """Tokens issued to logins whose password was checked, until they expire."""

    def __init__(self, ttl_seconds: int, clock=time.time) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[Viewer, float]] = {}

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def issue(self, viewer: Viewer) -> Issued:
        token = secrets.token_urlsafe(32)
        expires_at = self.clock() + self.ttl_seconds
        with self._lock:
            now = self.clock()
            self._tokens = {digest: entry for digest, entry in self._tokens.items() if entry[1] > now}
            self._tokens[self._digest(token)] = (viewer, expires_at)
        return Issued(token, expires_at)

    def viewer(self, token: str) -> Viewer:
        with self._lock:
            entry = self._tokens.get(self._digest(token))
        if entry is None or entry[1] <= self.clock():
            raise Unauthenticated("the token is unknown or has expired: get a new one with POST /tokens")
        return entry[0]

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(self._digest(token), None)


def basic_viewer(credentials: str) -> Viewer:
    """The login and password of a basic Authorization header's credentials."""
    try:
        login, sep, password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("the basic credentials are not base64 of login:password") from None
    if not sep or not login:
        raise Unauthenticated("the basic credentials are not login:password")
    return Viewer(login, password)


def caller(authorization: str | None, tokens: TokenStore) -> Viewer:
    """The viewer an Authorization header names: `Basic <login:password>` or `Bearer <token>`."""
    if not authorization:
        raise Unauthenticated(
            "sign in: HTTP basic with your PostgreSQL login, or a bearer token from POST /tokens"
        )
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic" and value:
        return basic_viewer(value)
    if scheme.lower() == "bearer" and value:
        return tokens.viewer(value)
    raise Unauthenticated("use HTTP basic with your PostgreSQL login, or a bearer token from POST /tokens")
