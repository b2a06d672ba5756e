"""Checkpoints belong to one stream: a stream recreated under the same name is refused, with what to do;
`make status` warns before Kinesis's retention drops what a checkpoint has not read."""

from datetime import UTC, datetime, timedelta

import pytest

from ingestion.checkpoints import RESET_COMMAND, StreamIdentity, identity_problem
from ops.stack.lag import retention_warning

pytestmark = pytest.mark.unit

ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/pos-events"
FIRST = StreamIdentity(ARN, datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
SECOND = StreamIdentity(ARN, datetime(2026, 11, 30, 9, 30, tzinfo=UTC))
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_checkpoints_of_the_same_stream_are_used():
    assert identity_problem("pos-events", [FIRST, FIRST], FIRST) is None


def test_the_same_instant_in_another_time_zone_is_the_same_stream():
    local = StreamIdentity(ARN, FIRST.created_at.astimezone(datetime.now().astimezone().tzinfo))
    assert identity_problem("pos-events", [local], FIRST) is None


def test_no_checkpoint_and_rows_from_before_identities_are_taken_as_this_stream():
    assert identity_problem("pos-events", [], SECOND) is None
    assert identity_problem("pos-events", [None, None], SECOND) is None


def test_a_recreated_stream_is_named_with_both_creation_times_and_the_reset_command():
    problem = identity_problem("pos-events", [None, FIRST], SECOND)
    assert problem is not None
    assert "'pos-events' was recreated" in problem
    assert FIRST.created_at.isoformat() in problem and SECOND.created_at.isoformat() in problem
    assert RESET_COMMAND.format(stream="pos-events") in problem


def test_another_arn_is_another_stream():
    moved = StreamIdentity(ARN.replace("us-east-1", "eu-west-1"), FIRST.created_at)
    assert identity_problem("pos-events", [FIRST], moved) is not None


def test_no_warning_while_the_checkpoint_is_within_half_the_retention():
    assert retention_warning("shardId-000", None, 24, NOW) is None
    assert retention_warning("shardId-000", NOW - timedelta(hours=11, minutes=59), 24, NOW) is None


def test_a_checkpoint_older_than_half_the_retention_is_a_warning_with_what_to_do():
    warning = retention_warning("shardId-001", NOW - timedelta(hours=13), 24, NOW)
    assert warning is not None and warning.startswith("WARNING shardId-001")
    assert "13.0 h old" in warning and "24 h" in warning
    assert "kinesis_to_bronze" in warning


def test_the_retention_comes_from_the_stream():
    assert retention_warning("shardId-000", NOW - timedelta(hours=40), 168, NOW) is None
    assert retention_warning("shardId-000", NOW - timedelta(hours=85), 168, NOW) is not None
