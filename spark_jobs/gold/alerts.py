"""Stock alerts: open, escalate and resolve them in `stock_alerts`, publish them to SNS, read them back.

Lifecycle (`apply_lifecycle`, run inside the load's transaction, so alerts always match the
stock positions they come from):

- a condition (see `stock_model.alert_conditions`) with no open alert of its store, SKU and
  kind opens one, marked for publication;
- an open alert whose condition still holds takes the new figures; if its severity rises above
  the highest severity it had, that is an escalation: same row, marked for publication again;
- an open alert of a store-SKU evaluated in this load whose condition no longer holds is
  resolved. Store-SKUs the load did not evaluate keep their alerts as they are.

Publication (`publish_pending`) is an outbox: the load commits the marks, then each marked alert
is published to SNS as JSON and unmarked in its own transaction. A crash in between publishes
that one alert again on the next run; nothing is lost, and nothing is published twice otherwise.

    python -m spark_jobs.gold.alerts latest [--limit 20]     # what `make alerts` prints
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from psycopg2 import sql
from psycopg2.extras import execute_values

from lakehouse.aws import client
from lakehouse.config import Settings, load_settings
from lakehouse.db import connect
from lakehouse.locks import lock_key
from spark_jobs.gold.config import check_schema_name, load_gold_config

MESSAGE_VERSION = 1
_RANK = "case {} when 'critical' then 4 when 'high' then 3 when 'medium' then 2 when 'low' then 1 else 0 end"
# Publishing of one schema at a time: the advisory lock of this stage on the schema.
_PUBLISH_STAGE = "publish-alerts"


@dataclass(frozen=True)
class AlertCondition:
    store_id: str
    sku: str
    kind: str
    severity: str
    on_hand: int
    reorder_point: float
    predicted_stockout_date: date | None
    recommended_order_qty: int


def _rank(expression: str) -> str:
    return _RANK.format(expression)


def apply_lifecycle(cursor, conditions: Iterable[AlertCondition], as_of: datetime) -> dict[str, int]:
    """Open, update, escalate and resolve alerts; the cursor's search_path is the gold schema.

    The evaluated store-SKUs are those whose `stock_position` row has this `as_of`, so call this
    after the positions of the same load. Returns counts: opened, escalated, resolved, open.
    """
    cursor.execute(
        """
        create temp table stg_alert_conditions (
            store_id text, sku text, kind text, severity text, on_hand integer,
            reorder_point numeric, predicted_stockout_date date, recommended_order_qty integer
        ) on commit drop
        """
    )
    execute_values(
        cursor,
        "insert into stg_alert_conditions values %s",
        [
            (
                c.store_id,
                c.sku,
                c.kind,
                c.severity,
                c.on_hand,
                c.reorder_point,
                c.predicted_stockout_date,
                c.recommended_order_qty,
            )
            for c in conditions
        ],
        page_size=5000,
    )
    parameters = {"as_of": as_of}
    cursor.execute(
        """
        with resolved as (
            update stock_alerts as alert
            set resolved_at = greatest(%(as_of)s, alert.first_seen_at),
                last_seen_at = greatest(%(as_of)s, alert.last_seen_at),
                updated_at = now()
            from stock_position as position
            where alert.resolved_at is null
                and position.store_id = alert.store_id
                and position.sku = alert.sku
                and position.as_of = %(as_of)s
                and not exists (
                    select 1 from stg_alert_conditions as c
                    where c.store_id = alert.store_id and c.sku = alert.sku and c.kind = alert.kind
                )
            returning 1
        )
        select count(*) from resolved
        """,
        parameters,
    )
    resolved = cursor.fetchone()[0]
    escalates = f"{_rank('c.severity')} > greatest(alert.severity_rank, {_rank('alert.published_severity')})"
    cursor.execute(
        f"""
        with still_holding as (
            select alert.alert_id, c.*, {escalates} as escalates
            from stock_alerts as alert
            join stg_alert_conditions as c
                on c.store_id = alert.store_id and c.sku = alert.sku and c.kind = alert.kind
            where alert.resolved_at is null
        ),

        updated as (
            update stock_alerts as alert
            set severity = c.severity,
                on_hand = c.on_hand,
                reorder_point = c.reorder_point,
                predicted_stockout_date = c.predicted_stockout_date,
                recommended_order_qty = c.recommended_order_qty,
                last_seen_at = greatest(%(as_of)s, alert.last_seen_at),
                escalated_at = case when c.escalates then %(as_of)s else alert.escalated_at end,
                needs_publish = alert.needs_publish or c.escalates,
                updated_at = now()
            from still_holding as c
            where alert.alert_id = c.alert_id
            returning c.escalates
        )

        select count(*) filter (where escalates) from updated
        """,
        parameters,
    )
    escalated = cursor.fetchone()[0]
    cursor.execute(
        """
        with opened as (
            insert into stock_alerts (
                store_id, sku, kind, severity, on_hand, reorder_point, predicted_stockout_date,
                recommended_order_qty, first_seen_at, last_seen_at, needs_publish
            )
            select c.*, %(as_of)s, %(as_of)s, true
            from stg_alert_conditions as c
            where not exists (
                select 1 from stock_alerts as alert
                where alert.resolved_at is null
                    and alert.store_id = c.store_id and alert.sku = c.sku and alert.kind = c.kind
            )
            returning 1
        )
        select count(*) from opened
        """,
        parameters,
    )
    opened = cursor.fetchone()[0]
    cursor.execute("select count(*) from stock_alerts where resolved_at is null")
    return {"opened": opened, "escalated": escalated, "resolved": resolved, "open": cursor.fetchone()[0]}


def _json_value(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def alert_message(row: dict) -> dict:
    """The JSON document published for one alert (`event` is opened or escalated)."""
    return {
        "message_version": MESSAGE_VERSION,
        "event": "opened" if row["published_severity"] is None else "escalated",
        **{key: _json_value(value) for key, value in row.items() if key != "published_severity"},
    }


_PENDING_COLUMNS = (
    "alert_id",
    "store_id",
    "sku",
    "kind",
    "severity",
    "on_hand",
    "reorder_point",
    "predicted_stockout_date",
    "recommended_order_qty",
    "first_seen_at",
    "last_seen_at",
    "escalated_at",
    "resolved_at",
    "published_severity",
)


def topic_arn(settings: Settings) -> str:
    """The ARN of the ALERTS_TOPIC topic (creating a topic that exists returns its ARN)."""
    return client("sns", settings).create_topic(Name=settings.alerts_topic)["TopicArn"]


def publish_pending(settings: Settings, schema: str | None = None, topic: str | None = None) -> int:
    """Publish every alert marked for publication to SNS, once each; returns how many."""
    schema = check_schema_name(schema or load_gold_config().schema)
    sns = client("sns", settings)
    topic = topic or topic_arn(settings)
    published = 0
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute("select pg_try_advisory_lock(%s)", (lock_key(_PUBLISH_STAGE, schema),))
        if not cursor.fetchone()[0]:
            return 0  # another process is publishing this schema's alerts right now
        try:
            cursor.execute(
                sql.SQL("select {} from {}.stock_alerts where needs_publish order by alert_id").format(
                    sql.SQL(", ").join(map(sql.Identifier, _PENDING_COLUMNS)), sql.Identifier(schema)
                )
            )
            rows = [dict(zip(_PENDING_COLUMNS, values, strict=True)) for values in cursor.fetchall()]
            connection.commit()
            for row in rows:
                message = alert_message(row)
                sns.publish(
                    TopicArn=topic,
                    Message=json.dumps(message, sort_keys=True),
                    MessageAttributes={
                        "kind": {"DataType": "String", "StringValue": row["kind"]},
                        "severity": {"DataType": "String", "StringValue": row["severity"]},
                        "store_id": {"DataType": "String", "StringValue": row["store_id"]},
                    },
                )
                cursor.execute(
                    sql.SQL(
                        "update {}.stock_alerts set needs_publish = false, published_at = now(), "
                        "published_severity = %s where alert_id = %s"
                    ).format(sql.Identifier(schema)),
                    (row["severity"], row["alert_id"]),
                )
                connection.commit()
                published += 1
        finally:
            cursor.execute("select pg_advisory_unlock(%s)", (lock_key(_PUBLISH_STAGE, schema),))
    return published


def latest_alerts(
    settings: Settings | None = None, limit: int = 20, *, queue_url: str | None = None
) -> list[dict]:
    """Up to `limit` alert messages from the ALERTS_QUEUE queue, newest first, without consuming them.

    Messages are received with a zero visibility timeout and not deleted, so every reader sees
    them (the queue keeps them for its retention period). SQS returns them in no set order, so
    this reads until it stops finding new ones and sorts by last_seen_at.
    """
    settings = settings or load_settings()
    sqs = client("sqs", settings)
    queue_url = queue_url or sqs.get_queue_url(QueueName=settings.alerts_queue)["QueueUrl"]
    seen: dict[str, dict] = {}
    empty_rounds = 0
    for _ in range(max(10, limit)):
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
        )
        fresh = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        for message in fresh:
            seen[message["MessageId"]] = json.loads(message["Body"])
        empty_rounds = 0 if fresh else empty_rounds + 1
        if empty_rounds >= 3:
            break
    ordered = sorted(
        seen.values(),
        key=lambda body: (body.get("last_seen_at") or "", body.get("alert_id") or 0),
        reverse=True,
    )
    return ordered[:limit]


def format_alert(body: dict) -> str:
    """One line for a terminal."""
    stockout = body.get("predicted_stockout_date") or "-"
    return (
        f"{body.get('last_seen_at', '?'):25} {body.get('event', '?'):9} {body.get('severity', '?'):8} "
        f"{body.get('kind', '?'):20} {body.get('store_id', '?')} {body.get('sku', '?'):10} "
        f"on hand {body.get('on_hand')}, reorder point {body.get('reorder_point')}, "
        f"stockout {stockout}, order {body.get('recommended_order_qty')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark_jobs.gold.alerts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    latest = commands.add_parser("latest", help="print the latest alerts from the SQS queue")
    latest.add_argument("--limit", type=int, default=20)
    commands.add_parser("publish", help="publish alerts still marked for publication")
    arguments = parser.parse_args(argv)
    settings = load_settings()
    if arguments.command == "publish":
        print(f"{publish_pending(settings)} alert(s) published")
        return 0
    alerts = latest_alerts(settings, arguments.limit)
    if not alerts:
        print(f"no alerts in queue {settings.alerts_queue}")
    for body in alerts:
        print(format_alert(body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
