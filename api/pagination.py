"""Keyset cursors: a page ends at its last row's sort key, and the next page starts after it.

A cursor is that key as base64url JSON, opaque to clients. Unlike an offset, it does not shift
when rows are inserted before it: the next page is "after this key", whatever came in meanwhile.
It grants nothing: the query still runs as the caller, under row-level security.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class BadCursor(ValueError):
    """A cursor that this endpoint did not issue."""


def encode(key: Sequence[Any]) -> str:
    text = json.dumps(list(key), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, types: Sequence[type]) -> list[Any]:
    """The key of `cursor`, checked against the endpoint's key `types`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor(
            "cursor is not one this API issued: pass next_cursor from the previous page"
        ) from None
    if (
        not isinstance(key, list)
        or len(key) != len(types)
        or not all(
            isinstance(value, kind) and not isinstance(value, bool)
            for value, kind in zip(key, types, strict=True)
        )
    ):
        raise BadCursor("cursor does not belong to this listing: pass next_cursor from the previous page")
    return key


def page(rows: list[dict], page_size: int, key_of) -> tuple[list[dict], str | None]:
    """The first `page_size` of `rows` (fetched one more than a page) and the next page's cursor."""
    if len(rows) <= page_size:
        return rows, None
    rows = rows[:page_size]
    return rows, encode(key_of(rows[-1]))
