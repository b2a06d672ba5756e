"""Which days an incremental gold load rereads, from what silver stored since the last load."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from spark_jobs.gold.job import SilverExtent, window_after
from spark_jobs.gold.load import PreviousLoad

pytestmark = pytest.mark.unit

LOADED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PREVIOUS = PreviousLoad(
    as_of=datetime(2026, 11, 29, 11, 58, tzinfo=UTC),
    window_start=date(2026, 11, 26),
    silver_loaded_through=LOADED,
)
NOTHING_NEW = SilverExtent(None, None, None)


def test_nothing_new_keeps_the_clock_and_rereads_the_late_days():
    assert window_after(PREVIOUS, NOTHING_NEW, late_days=3) == (PREVIOUS.as_of, date(2026, 11, 26))


def test_a_newer_event_moves_the_clock_on():
    newest = datetime(2026, 11, 29, 12, 5, tzinfo=UTC)
    new = SilverExtent(newest, date(2026, 11, 29), LOADED + timedelta(minutes=5))
    assert window_after(PREVIOUS, new, late_days=3) == (newest, date(2026, 11, 26))


def test_an_event_stored_days_late_opens_the_window_at_its_day():
    new = SilverExtent(
        datetime(2026, 11, 2, 9, 0, tzinfo=UTC), date(2026, 11, 2), LOADED + timedelta(minutes=1)
    )
    as_of, start = window_after(PREVIOUS, new, late_days=3)
    assert (as_of, start) == (PREVIOUS.as_of, date(2026, 11, 2))


def test_the_window_does_not_reach_before_the_first_load_started():
    """A first load started at silver's oldest day; the late days before it hold no data."""
    first = PreviousLoad(datetime(2026, 11, 27, 8, 0, tzinfo=UTC), date(2026, 11, 26), LOADED)
    assert window_after(first, NOTHING_NEW, late_days=3)[1] == date(2026, 11, 26)


def test_the_data_day_is_the_utc_day_whatever_zone_postgres_answers_in():
    in_new_york = PreviousLoad(
        datetime(2026, 11, 29, 21, 0, tzinfo=timezone(timedelta(hours=-5))), date(2026, 11, 1), LOADED
    )
    as_of, start = window_after(in_new_york, NOTHING_NEW, late_days=1)
    assert as_of.tzinfo == UTC and start == date(2026, 11, 29)
