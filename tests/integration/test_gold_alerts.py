"""Alert lifecycle in real PostgreSQL, and SNS -> SQS delivery on real LocalStack."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from psycopg2 import sql

from lakehouse.aws import client
from lakehouse.config import Settings
from lakehouse.db import connect
from lakehouse.resources import ensure_alerts_channel
from spark_jobs.gold.alerts import (
    AlertCondition,
    AlertCounts,
    apply_lifecycle,
    latest_alerts,
    publish_pending,
)
from spark_jobs.gold.migrate import migrate

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def schema(postgres: Settings) -> Iterator[str]:
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


def _evaluate(
    settings: Settings, schema: str, as_of: datetime, on_hand: int, conditions: list[tuple[str, str]]
):
    """One load's worth: the position of S001/SKU-1 as of `as_of`, then the lifecycle."""
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}").format(sql.Identifier(schema)))
        cursor.execute(
            """
            insert into stock_position (store_id, sku, as_of, on_hand, mean_7d, mean_28d, ewma, demand_std,
                demand_days, dow_index, service_level, lead_time_days, safety_stock, reorder_point,
                order_up_to_level, recommended_order_qty, risk)
            values ('S001', 'SKU-1', %(as_of)s, %(on_hand)s, 2, 2, 2, 1, 28, '{1,1,1,1,1,1,1}', 0.95, 3,
                    3, 9, 11, greatest(0, 11 - %(on_hand)s), 'ok')
            on conflict (store_id, sku) do update set as_of = excluded.as_of, on_hand = excluded.on_hand
            """,
            {"as_of": as_of, "on_hand": on_hand},
        )
        found = [
            AlertCondition(
                "S001",
                "SKU-1",
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
    assert [(m["event"], m["kind"], m["severity"]) for m in messages] == [
        ("opened", "stockout", "critical"),
        ("escalated", "below_reorder_point", "high"),
        ("opened", "below_reorder_point", "medium"),
    ]
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
