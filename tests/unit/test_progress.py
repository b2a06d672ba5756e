"""Whether input stamped at some time is new for a run that began at another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakehouse.progress import CLOCK_MARGIN, is_new

pytestmark = pytest.mark.unit

BEGAN = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stamped", "new"),
    [
        (None, False),
        (BEGAN - timedelta(minutes=1), False),
        (BEGAN - CLOCK_MARGIN - timedelta(seconds=1), False),
        (BEGAN - CLOCK_MARGIN, True),  # the same second as the listing, or a clock a little behind
        (BEGAN, True),
        (BEGAN + timedelta(minutes=1), True),
    ],
)
def test_is_new(stamped: datetime | None, new: bool):
    assert is_new(stamped, BEGAN) is new
