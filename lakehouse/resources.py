"""The cloud resources the code uses, created idempotently with boto3.

Terraform (`terraform/`) declares the same resources from the same variables; this bootstrap
is what the native stack runs where Terraform's provider registry cannot be reached, and what
tests run to get a known starting point. Names come from Settings only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from lakehouse.aws import client
from lakehouse.config import Settings


@dataclass(frozen=True)
class Resources:
    """ARNs and URLs of what ensure_resources() made or found."""

    stream_arn: str
    buckets: tuple[str, ...]
    topic_arn: str
    queue_url: str


def ensure_stream(settings: Settings, name: str | None = None, shards: int | None = None) -> str:
    """Create the Kinesis stream if missing and wait until it is ACTIVE; return its ARN."""
    kinesis = client("kinesis", settings)
    name = name or settings.kinesis_stream
    try:
        kinesis.create_stream(StreamName=name, ShardCount=shards or settings.kinesis_shards)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def ensure_bucket(settings: Settings, name: str) -> None:
    s3 = client("s3", settings)
    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as error:
        if error.response["Error"]["Code"] not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    arguments: dict = {"Bucket": name}
    if settings.aws_region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": settings.aws_region}
    s3.create_bucket(**arguments)


def ensure_alerts_channel(settings: Settings) -> tuple[str, str]:
    """The alerts SNS topic and an SQS queue subscribed to it (raw JSON messages)."""
    sns = client("sns", settings)
    sqs = client("sqs", settings)
    topic_arn = sns.create_topic(Name=settings.alerts_topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=settings.alerts_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    subscribed = any(
        subscription["Endpoint"] == queue_arn
        for subscription in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    )
    if not subscribed:
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
    return topic_arn, queue_url


def ensure_resources(settings: Settings) -> Resources:
    """Create everything the pipeline uses; safe to run any number of times."""
    stream_arn = ensure_stream(settings)
    buckets = (settings.bronze_bucket, settings.silver_bucket)
    for bucket in buckets:
        ensure_bucket(settings, bucket)
    topic_arn, queue_url = ensure_alerts_channel(settings)
    return Resources(stream_arn, buckets, topic_arn, queue_url)
