"""Which objects a silver run takes when some are held back or waiting for their replay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spark_jobs.silver.held import HELD, REPLAYING, HeldObject, split_pending

pytestmark = pytest.mark.unit

WHEN = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def _held(key: str, status: str = HELD, size: int = 9) -> HeldObject:
    return HeldObject("pos-events", key, size, status, "run-1", "sales_lines: expect...", WHEN)


def test_held_objects_are_skipped_and_later_ones_flow_on():
    listed = [("a", 1), ("b", 2), ("c", 3)]
    assert split_pending(listed, [_held("b")], None) == ([("a", 1), ("c", 3)], 0)


def test_objects_to_replay_are_taken_even_when_the_listing_no_longer_reaches_them():
    listed = [("c", 3)]
    taken, waiting = split_pending(listed, [_held("a", REPLAYING, 1), _held("b")], None)
    assert (taken, waiting) == ([("a", 1), ("c", 3)], 0)


def test_an_object_both_listed_and_replaying_is_taken_once():
    assert split_pending([("a", 1)], [_held("a", REPLAYING, 1)], None) == ([("a", 1)], 0)


def test_the_run_limit_counts_what_is_taken_not_what_is_held():
    listed = [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
    assert split_pending(listed, [_held("a"), _held("b")], 1) == ([("c", 3)], 1)
