"""Stock alerts: open, escalate and resolve them in `stock_alerts`, publish them to SNS, read them back.

Lifecycle (`apply_lifecycle`, run inside the load's transaction, so alerts always match the
stock positions they come from; one statement per step in `sql/gold/alerts/`):

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
from dataclasses import astuple, dataclass
from datetime import date, datetime
from decimal import Decimal

from psycopg2 import sql
from psycopg2.extras import execute_values

from lakehouse.aws import client
from lakehouse.config import Settings, check_schema_name, load_settings
from lakehouse.db import connect
from lakehouse.locks import lock_key
from spark_jobs.gold.sql_files import gold_sql
from spark_jobs.gold.staging import ALERT_CONDITIONS

MESSAGE_VERSION = 2  # 2: stockout_probability, expected_stockout_date and on_order
# Publishing of one schema at a time: the advisory lock of this stage on the schema.
_PUBLISH_STAGE = "publish-alerts"


@dataclass(frozen=True)
class AlertCondition:
    """One condition that holds for a store-SKU now; its fields are staging.ALERT_CONDITIONS."""

    store_id: str
    sku: str
    kind: str
    severity: str
    on_hand: int
    reorder_point: float
    predicted_stockout_date: date | None
    recommended_order_qty: int
    on_order: int
    stockout_probability: float | None  # of a stockout within the lead time
    expected_stockout_date: date | None  # on hand and open orders


@dataclass(frozen=True)
class AlertCounts:
    """What one lifecycle did: alerts opened, escalated and resolved, and how many are open after."""

    opened: int
    escalated: int
    resolved: int
    open: int


def _count(cursor, name: str, schema: str, as_of: datetime) -> int:
    cursor.execute(gold_sql(f"alerts/{name}", schema), {"as_of": as_of})
    return cursor.fetchone()[0]


def apply_lifecycle(
    cursor, schema: str, conditions: Iterable[AlertCondition], as_of: datetime
) -> AlertCounts:
    """Open, update, escalate and resolve the alerts of `schema` (sql/gold/alerts/).

    The evaluated store-SKUs are those whose `stock_position` row has this `as_of`, so call this
    after the positions of the same load, in its transaction.
    """
    ALERT_CONDITIONS.create(cursor)
    execute_values(
        cursor,
        sql.SQL("insert into {} ({}) values %s")
        .format(
            sql.Identifier(ALERT_CONDITIONS.name),
            sql.SQL(", ").join(map(sql.Identifier, ALERT_CONDITIONS.column_names)),
        )
        .as_string(cursor),
        [astuple(condition) for condition in conditions],
        page_size=5000,
    )
    resolved = _count(cursor, "resolve_alerts", schema, as_of)
    escalated = _count(cursor, "update_alerts", schema, as_of)
    opened = _count(cursor, "open_alerts", schema, as_of)
    return AlertCounts(opened, escalated, resolved, _count(cursor, "count_open_alerts", schema, as_of))


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


def topic_arn(settings: Settings) -> str:
    """The ARN of the ALERTS_TOPIC topic (creating a topic that exists returns its ARN)."""
    return client("sns", settings).create_topic(Name=settings.alerts_topic)["TopicArn"]


def publish_pending(settings: Settings, schema: str | None = None, topic: str | None = None) -> int:
    """Publish every alert marked for publication to SNS, once each; returns how many."""
    schema = check_schema_name(schema or settings.gold.schema)
    sns = client("sns", settings)
    topic = topic or topic_arn(settings)
    published = 0
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute("select pg_try_advisory_lock(%s)", (lock_key(_PUBLISH_STAGE, schema),))
        if not cursor.fetchone()[0]:
            return 0  # another process is publishing this schema's alerts right now
        try:
            cursor.execute(gold_sql("alerts/pending_alerts", schema))
            columns = [column.name for column in cursor.description]
            rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
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
                    gold_sql("alerts/mark_published", schema),
                    {"severity": row["severity"], "alert_id": row["alert_id"]},
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
    stockout = body.get("expected_stockout_date") or body.get("predicted_stockout_date") or "-"
    probability = body.get("stockout_probability")
    chance = "-" if probability is None else f"{probability:.0%}"
    return (
        f"{body.get('last_seen_at', '?'):25} {body.get('event', '?'):9} {body.get('severity', '?'):8} "
        f"{body.get('kind', '?'):20} {body.get('store_id', '?')} {body.get('sku', '?'):10} "
        f"P(stockout) {chance}, on hand {body.get('on_hand')}, on order {body.get('on_order')}, "
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
