"""The pure parts of the stage leases: when a holder may write, what a write needs, where fences apply."""

from __future__ import annotations

import pytest

from lakehouse.locks import NoLeaseError, judge, lock_key, require_lease
from spark_jobs.silver.tables import lake_bucket

pytestmark = pytest.mark.unit


def test_a_holder_writes_only_with_its_token_and_its_lock():
    assert judge(7, (7, "host pid 1"), lock_held=True) is None
    assert judge(7, (8, "host pid 2"), lock_held=True) == "the stage was taken over (token 8, by host pid 2)"
    assert judge(7, (7, "host pid 1"), lock_held=False) == (
        "its PostgreSQL lock session ended, so the stage's lock is free"
    )
    assert "lease row is gone" in judge(7, None, lock_held=True)


def test_a_takeover_is_reported_before_a_dead_session():
    # Both wrong: the newer holder is the useful thing to name.
    assert "taken over (token 9" in judge(7, (9, "other"), lock_held=False)


def test_a_write_without_the_stage_is_refused_and_says_how_to_hold_it():
    with pytest.raises(NoLeaseError) as refused:
        require_lease("silver", "some-bucket", "MERGE into s3a://some-bucket/sales_lines")
    message = str(refused.value)
    assert "refusing MERGE into s3a://some-bucket/sales_lines" in message
    assert "does not hold silver of some-bucket (it holds nothing)" in message
    assert "own_stage(settings, 'silver', 'some-bucket')" in message


def test_lock_keys_are_stable_and_differ_by_stage_and_target():
    assert lock_key("silver", "lake") == lock_key("silver", "lake")
    assert len({lock_key("silver", "lake"), lock_key("gold", "lake"), lock_key("silver", "lake2")}) == 3
    assert 0 <= lock_key("gold", "gold") < 2**32  # pg_locks keeps it as objid with classid 0


def test_only_tables_on_the_lake_are_fenced():
    assert lake_bucket("s3a://lake-silver/sales_lines") == "lake-silver"
    assert lake_bucket("s3a://lake-silver/_meta/bronze_log") == "lake-silver"
    assert lake_bucket("/tmp/pytest-1/silver/sales_lines") is None
    assert lake_bucket("file:/tmp/silver/sales_lines") is None
