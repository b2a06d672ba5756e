"""Alert lifecycle in real PostgreSQL, and SNS -> SQS delivery on real LocalStack."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from psycopg2 import sql

from lakehouse.aws import client
from lakehouse.config import REPO_ROOT, Settings
from lakehouse.db import connect
from lakehouse.resources import ensure_alerts_channel
from spark_jobs.gold.alerts import (
    AlertCondition,
    AlertCounts,
    apply_lifecycle,
    latest_alerts,
    publish_pending,
    queued_messages,
    topic_arn,
)
from spark_jobs.gold.migrate import migrate

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)


@pytest.fixture
def schema(postgres: Settings) -> Iterator[str]:
    """A gold schema of this test's own (migrating one takes about a second)."""
    name = f"gold_t{uuid.uuid4().hex[:10]}"
    migrate(postgres, name, log=lambda message: None)
    with connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}").format(sql.Identifier(name)))
        cursor.execute(
            "insert into dim_store (store_id, store_name, region, timezone, snapshot_at) "
            "values ('S001', 'One', 'west', 'UTC', now())"
        )
    yield name
    with connect(postgres, owner=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))


def _stage_and_evaluate(
    cursor, schema: str, as_of: datetime, on_hand: int, conditions: list[tuple[str, str]], sku: str
) -> AlertCounts:
    """One load's worth in the caller's transaction: the position of S001/`sku`, then the lifecycle."""
    cursor.execute(sql.SQL("set local search_path to {}").format(sql.Identifier(schema)))
    cursor.execute(
        """
        insert into stock_position (store_id, sku, as_of, on_hand, mean_7d, mean_28d, ewma, demand_std,
            demand_days, dow_index, service_level, lead_time_days, safety_stock, reorder_point,
            order_up_to_level, recommended_order_qty, risk)
        values ('S001', %(sku)s, %(as_of)s, %(on_hand)s, 2, 2, 2, 1, 28, '{1,1,1,1,1,1,1}', 0.95, 3,
                3, 9, 11, greatest(0, 11 - %(on_hand)s), 'ok')
        on conflict (store_id, sku) do update set as_of = excluded.as_of, on_hand = excluded.on_hand
        """,
        {"as_of": as_of, "on_hand": on_hand, "sku": sku},
    )
    found = [
        AlertCondition(
            "S001",
            sku,
            kind,
            severity,
            on_hand,
            9.0,
            date(2026, 11, 4),
            11 - on_hand,
            4,
            0.62,
            date(2026, 11, 5),
        )
        for kind, severity in conditions
    ]
    return apply_lifecycle(cursor, schema, found, as_of)


def _evaluate(
    settings: Settings,
    schema: str,
    as_of: datetime,
    on_hand: int,
    conditions: list[tuple[str, str]],
    sku: str = "SKU-1",
) -> AlertCounts:
    """One committed load of S001/`sku`."""
    with connect(settings) as connection, connection.cursor() as cursor:
        return _stage_and_evaluate(cursor, schema, as_of, on_hand, conditions, sku)


def _alerts(settings: Settings, schema: str) -> list[tuple]:
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "select kind, severity, first_seen_at, last_seen_at, escalated_at, resolved_at, "
                "needs_publish "
                "from {}.stock_alerts order by alert_id"
            ).format(sql.Identifier(schema))
        )
        return cursor.fetchall()


@pytest.fixture
def channel(localstack: Settings, unique_name: str) -> Settings:
    """Settings with a topic and a subscribed queue of this test's own."""
    settings = dataclasses.replace(
        localstack, alerts_topic=f"{unique_name}-alerts", alerts_queue=f"{unique_name}-inbox"
    )
    ensure_alerts_channel(settings)
    return settings


def test_open_escalate_resolve_and_publish_once(postgres: Settings, schema: str, channel: Settings):
    t1, t2, t3, t4 = (T0 + timedelta(hours=h) for h in (0, 24, 48, 72))

    counts = _evaluate(postgres, schema, t1, 8, [("below_reorder_point", "medium")])
    assert counts == AlertCounts(opened=1, escalated=0, resolved=0, open=1)
    assert publish_pending(channel, schema) == 1
    assert publish_pending(channel, schema) == 0  # once

    counts = _evaluate(postgres, schema, t2, 2, [("below_reorder_point", "high")])
    assert counts == AlertCounts(opened=0, escalated=1, resolved=0, open=1)
    assert _alerts(postgres, schema) == [("below_reorder_point", "high", t1, t2, t2, None, True)]
    assert publish_pending(channel, schema) == 1

    counts = _evaluate(postgres, schema, t3, 0, [("stockout", "critical")])
    assert counts == AlertCounts(opened=1, escalated=0, resolved=1, open=1)

    counts = _evaluate(postgres, schema, t4, 30, [])
    assert counts == AlertCounts(opened=0, escalated=0, resolved=1, open=0)
    assert _alerts(postgres, schema) == [
        ("below_reorder_point", "high", t1, t3, t2, t3, False),
        ("stockout", "critical", t3, t4, None, t4, True),
    ]
    assert publish_pending(channel, schema) == 1

    messages = latest_alerts(channel, limit=10)
    assert [(m["event"], m["kind"], m["severity"], m["version"]) for m in messages] == [
        ("opened", "stockout", "critical", 1),
        ("escalated", "below_reorder_point", "high", 2),
        ("opened", "below_reorder_point", "medium", 1),
    ]
    keys = {
        (
            int(m["MessageAttributes"]["alert_id"]["StringValue"]),
            int(m["MessageAttributes"]["version"]["StringValue"]),
        )
        for m in queued_messages(channel)
    }
    assert keys == {(m["alert_id"], m["version"]) for m in messages}  # the key is an attribute too
    assert messages[0]["store_id"] == "S001" and messages[0]["resolved_at"] == t4.isoformat()
    assert latest_alerts(channel, limit=10) == messages  # reading does not consume


def test_a_de_escalation_then_a_new_rise_publishes_nothing_new(
    postgres: Settings, schema: str, channel: Settings
):
    base = T0 + timedelta(days=10)
    _evaluate(postgres, schema, base, 2, [("below_reorder_point", "high")])
    publish_pending(channel, schema)
    _evaluate(postgres, schema, base + timedelta(days=1), 8, [("below_reorder_point", "medium")])
    counts = _evaluate(postgres, schema, base + timedelta(days=2), 2, [("below_reorder_point", "high")])
    assert counts.escalated == 0
    assert publish_pending(channel, schema) == 0
    sqs = client("sqs", channel)
    url = sqs.get_queue_url(QueueName=channel.alerts_queue)["QueueUrl"]
    bodies = latest_alerts(channel, 10, queue_url=url)
    assert [b["severity"] for b in bodies] == ["high"]


def _publication(settings: Settings, schema: str, sku: str) -> tuple[int, bool, int | None]:
    """(version, needs_publish, published_version) of the one alert of S001/`sku`."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "select version, needs_publish, published_version from {}.stock_alerts where sku = %s"
            ).format(sql.Identifier(schema)),
            (sku,),
        )
        [row] = cursor.fetchall()
        return row


def _wait_for_a_blocked_clear(settings: Settings, schema: str, timeout: float = 120) -> None:
    """Until a session waits on a row lock to clear an alert of `schema` (mark_published.sql)."""
    pattern = f'%update "{schema}".stock_alerts%published_at = now()%'
    deadline = time.monotonic() + timeout
    with connect(settings, autocommit=True) as connection, connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like %s",
                (pattern,),
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.1)
    raise AssertionError(f"no publisher of {schema} waited on the load's row lock within {timeout} s")


def _bodies(settings: Settings) -> list[dict]:
    return [json.loads(message["Body"]) for message in queued_messages(settings)]


def test_an_escalation_committed_between_read_and_clear_is_published_next_time(
    postgres: Settings, schema: str, channel: Settings
):
    at = T0 + timedelta(days=20)
    _evaluate(postgres, schema, at, 8, [("below_reorder_point", "medium")])
    assert _publication(postgres, schema, "SKU-1") == (1, True, None)
    # The pool is left last, so a failure rolls the load back before the publisher is joined.
    with ThreadPoolExecutor(1) as pool, connect(postgres) as load, load.cursor() as cursor:
        escalation = [("below_reorder_point", "high")]
        assert (
            _stage_and_evaluate(cursor, schema, at + timedelta(hours=1), 2, escalation, "SKU-1").escalated
            == 1
        )
        # The load has not committed version 2: the publisher reads version 1, sends it, and its
        # clear waits on the row the load holds until the load commits.
        publishing = pool.submit(publish_pending, channel, schema)
        _wait_for_a_blocked_clear(postgres, schema)
        load.commit()
        assert publishing.result(timeout=120) == 1
    assert _publication(postgres, schema, "SKU-1") == (2, True, None)  # version 2 still marked
    assert publish_pending(channel, schema) == 1
    assert _publication(postgres, schema, "SKU-1") == (2, False, 2)
    assert publish_pending(channel, schema) == 0
    assert sorted((b["version"], b["event"], b["severity"]) for b in _bodies(channel)) == [
        (1, "opened", "medium"),
        (2, "escalated", "high"),
    ]


def _publish_in_a_process(settings: Settings, schema: str, fault: str) -> subprocess.CompletedProcess:
    """`python -m spark_jobs.gold.alerts publish` for `schema` and `settings`' topic, with FAULT_AT."""
    environment = os.environ | {
        "FAULT_AT": fault,
        "GOLD_SCHEMA": schema,
        "ALERTS_TOPIC": settings.alerts_topic,
        "ALERTS_QUEUE": settings.alerts_queue,
    }
    return subprocess.run(
        [sys.executable, "-m", "spark_jobs.gold.alerts", "publish"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_publisher_killed_after_publish_sends_that_version_at_most_twice(
    postgres: Settings, schema: str, channel: Settings
):
    _evaluate(postgres, schema, T0, 8, [("below_reorder_point", "medium")])
    killed = _publish_in_a_process(channel, schema, "alerts.after_publish")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "alerts.after_publish" in killed.stderr
    assert _publication(postgres, schema, "SKU-1") == (1, True, None)  # on SNS, not yet unmarked

    assert publish_pending(channel, schema) == 1  # the rerun sends version 1 again
    assert _publication(postgres, schema, "SKU-1") == (1, False, 1)
    bodies = _bodies(channel)
    # At most twice per kill; here exactly twice, as the kill came after SNS took the first.
    assert [(b["alert_id"], b["version"]) for b in bodies] == [(bodies[0]["alert_id"], 1)] * 2
    assert [(m["version"], m["event"]) for m in latest_alerts(channel)] == [(1, "opened")]


def test_a_kill_after_gold_commits_and_before_publishing_sends_nothing_twice(
    postgres: Settings, schema: str, channel: Settings
):
    _evaluate(postgres, schema, T0, 8, [("below_reorder_point", "medium")])
    killed = _publish_in_a_process(channel, schema, "gold.after_commit")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _publication(postgres, schema, "SKU-1") == (1, True, None)
    assert publish_pending(channel, schema) == 1
    assert [(b["version"], b["event"]) for b in _bodies(channel)] == [(1, "opened")]


def _acknowledge(settings: Settings, schema: str, sku: str, severity: str) -> None:
    """A person's acknowledgement of the open alert of S001/`sku` at `severity`, as the dashboard records."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "insert into {schema}.alert_acknowledgements (alert_id, store_id, severity, note) "
                "select alert_id, store_id, %s, 'ordering more' from {schema}.stock_alerts "
                "where sku = %s and resolved_at is null"
            ).format(schema=sql.Identifier(schema)),
            (severity, sku),
        )
        assert cursor.rowcount == 1


def test_an_acknowledged_alert_escalates_only_above_the_acknowledged_severity(
    postgres: Settings, schema: str, channel: Settings
):
    t1, t2, t3, t4 = (T0 + timedelta(hours=h) for h in (0, 1, 2, 3))
    _evaluate(postgres, schema, t1, 2, [("below_reorder_point", "high")])
    _acknowledge(postgres, schema, "SKU-1", "high")
    # Stock came in before the publisher ran: version 1 goes out at medium.
    _evaluate(postgres, schema, t2, 6, [("below_reorder_point", "medium")])
    assert publish_pending(channel, schema) == 1

    # Back to high: above what was published, but not above what the manager acknowledged.
    assert _evaluate(postgres, schema, t3, 2, [("below_reorder_point", "high")]).escalated == 0
    assert _publication(postgres, schema, "SKU-1") == (1, False, 1)
    assert publish_pending(channel, schema) == 0

    # Critical rises above the acknowledged high: escalated and published.
    assert _evaluate(postgres, schema, t4, 0, [("below_reorder_point", "critical")]).escalated == 1
    assert _publication(postgres, schema, "SKU-1") == (2, True, 1)
    assert publish_pending(channel, schema) == 1
    assert [(m["version"], m["event"], m["severity"]) for m in latest_alerts(channel)] == [
        (2, "escalated", "critical"),
        (1, "opened", "medium"),
    ]


def test_the_topic_is_looked_up_and_never_created(
    postgres: Settings, schema: str, localstack: Settings, unique_name: str
):
    made = dataclasses.replace(
        localstack, alerts_topic=f"{unique_name}-made", alerts_queue=f"{unique_name}-inbox"
    )
    assert topic_arn(made) == ensure_alerts_channel(made)[0]

    missing = dataclasses.replace(localstack, alerts_topic=f"{unique_name}-never-made")
    _evaluate(postgres, schema, T0, 8, [("below_reorder_point", "medium")])
    with pytest.raises(RuntimeError, match=rf"topic \S+:{missing.alerts_topic} does not exist: run make up"):
        publish_pending(missing, schema)
    assert _publication(postgres, schema, "SKU-1") == (1, True, None)  # still marked for the next run
    sns = client("sns", localstack)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.get_topic_attributes(TopicArn=topic_arn(missing))  # the publisher did not create it
