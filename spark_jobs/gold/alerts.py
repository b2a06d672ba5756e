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
is published to SNS as JSON and unmarked in its own transaction, under this schema's publish
lock. Every published change gives the alert a new `version` (1 when opened, +1 per
escalation), and the unmarking names the version read, so an escalation that a concurrent load
commits between the read and the unmarking keeps its mark and goes out on the next run. A
crash between a publish and its unmarking sends that version again on the next run: nothing
is lost, and a version reaches SNS at most twice per crash. Every message carries `alert_id`
and `version`, in its body and as message attributes, as its deduplication key; readers keep
one message per key (`latest_alerts`, what `make alerts` prints). SNS's own
MessageDeduplicationId applies to FIFO topics only, and ALERTS_TOPIC is a standard topic.

    python -m spark_jobs.gold.alerts latest [--limit 20]     # what `make alerts` prints
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from datetime import date, datetime
from decimal import Decimal

from botocore.exceptions import ClientError

from lakehouse.aws import client
from lakehouse.config import Settings, check_schema_name, load_settings
from lakehouse.db import connect
from lakehouse.faults import fault_point
from lakehouse.locks import lock_key
from spark_jobs.gold.sql_files import gold_sql
from spark_jobs.gold.staging import ALERT_CONDITIONS

# 2: stockout_probability, expected_stockout_date and on_order; 3: the alert's version
MESSAGE_VERSION = 3
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
    ALERT_CONDITIONS.fill(cursor, (astuple(condition) for condition in conditions))
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
    """The JSON document published for one alert version (`event`: opened at 1, else escalated)."""
    return {
        "message_version": MESSAGE_VERSION,
        "event": "opened" if row["version"] == 1 else "escalated",
        **{key: _json_value(value) for key, value in row.items()},
    }


def message_attributes(row: dict) -> dict:
    """SNS message attributes: what subscribers filter on, and the key (alert_id, version)."""
    strings = {
        key: {"DataType": "String", "StringValue": row[key]} for key in ("kind", "severity", "store_id")
    }
    numbers = {key: {"DataType": "Number", "StringValue": str(row[key])} for key in ("alert_id", "version")}
    return strings | numbers


def topic_arn(settings: Settings) -> str:
    """The ARN of the ALERTS_TOPIC topic, built from the caller's account, the region and the name.

    Terraform and the bootstrap (`make up`) create the topic; the publisher never does, so the
    alerts role needs sns:Publish on that topic and nothing else (STS GetCallerIdentity, which
    gives the account, is allowed to every caller). A missing topic shows at the first publish.
    """
    identity = client("sts", settings, stage="alerts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    return f"arn:{partition}:sns:{settings.aws_region}:{identity['Account']}:{settings.alerts_topic}"


def _publish(sns, topic: str, row: dict) -> None:
    """One alert version to SNS; a topic that does not exist is a setup step missed, said so."""
    try:
        sns.publish(
            TopicArn=topic,
            Message=json.dumps(alert_message(row), sort_keys=True),
            MessageAttributes=message_attributes(row),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("NotFound", "NotFoundException"):
            raise
        raise RuntimeError(
            f"SNS topic {topic} does not exist: run make up (or terraform apply), which creates it; "
            "the alerts stay marked and the next publish sends them"
        ) from error


def publish_pending(settings: Settings, schema: str | None = None, topic: str | None = None) -> int:
    """Publish the current version of every alert marked for publication; returns how many were sent.

    Runs after gold's load has committed (fault point `gold.after_commit`). Each alert is
    unmarked only if its version is still the one sent; a version that moved on stays marked.
    """
    fault_point("gold.after_commit")
    schema = check_schema_name(schema or settings.gold.schema)
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
            if not rows:
                return 0
            sns = client("sns", settings, stage="alerts")
            topic = topic or topic_arn(settings)
            for row in rows:
                _publish(sns, topic, row)
                published += 1
                fault_point("alerts.after_publish")
                cursor.execute(
                    gold_sql("alerts/mark_published", schema),
                    {"alert_id": row["alert_id"], "version": row["version"], "severity": row["severity"]},
                )
                connection.commit()
        finally:
            connection.rollback()  # a failed statement aborts the transaction the unlock runs in
            cursor.execute("select pg_advisory_unlock(%s)", (lock_key(_PUBLISH_STAGE, schema),))
    return published


def queued_messages(settings: Settings, queue_url: str | None = None) -> list[dict]:
    """Every message in the ALERTS_QUEUE queue, duplicates included, without consuming them.

    Messages are received with a zero visibility timeout and not deleted, so every reader sees
    them (the queue keeps them for its retention period). SQS returns them in no set order and
    a few at a time, so this reads until three rounds in a row find nothing new.
    """
    sqs = client("sqs", settings)
    queue_url = queue_url or sqs.get_queue_url(QueueName=settings.alerts_queue)["QueueUrl"]
    seen: dict[str, dict] = {}
    empty_rounds = 0
    while empty_rounds < 3:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        fresh = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        seen.update((message["MessageId"], message) for message in fresh)
        empty_rounds = 0 if fresh else empty_rounds + 1
    return list(seen.values())


def latest_alerts(
    settings: Settings | None = None, limit: int = 20, *, queue_url: str | None = None
) -> list[dict]:
    """Up to `limit` alert messages from the ALERTS_QUEUE queue, newest first, one per alert version.

    A version sent twice (a publisher killed between its publish and its unmarking) is shown
    once: messages are keyed by (alert_id, version), the later figures kept; a message without
    that key (message_version < 3) is kept as it is.
    """
    settings = settings or load_settings()
    latest: dict[tuple, dict] = {}
    for message in queued_messages(settings, queue_url):
        body = json.loads(message["Body"])
        key = (body["alert_id"], body["version"]) if "version" in body else (message["MessageId"],)
        if key not in latest or (body.get("last_seen_at") or "") > (latest[key].get("last_seen_at") or ""):
            latest[key] = body
    ordered = sorted(
        latest.values(),
        key=lambda body: (
            body.get("last_seen_at") or "",
            body.get("alert_id") or 0,
            body.get("version") or 0,
        ),
        reverse=True,
    )
    return ordered[:limit]


def format_alert(body: dict) -> str:
    """One line for a terminal."""
    stockout = body.get("expected_stockout_date") or body.get("predicted_stockout_date") or "-"
    probability = body.get("stockout_probability")
    chance = "-" if probability is None else f"{probability:.0%}"
    return (
        f"{body.get('last_seen_at', '?'):25} {body.get('event', '?'):9} v{body.get('version', '?'):<3} "
        f"{body.get('severity', '?'):8} "
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
