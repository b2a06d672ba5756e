"""The cloud resources the code uses, created idempotently with boto3.

Terraform (`terraform/`) declares the same resources from the same variables. This bootstrap is
what the native stack runs when Terraform or its provider is not at hand, and what tests run to
get a known starting point. Names come from Settings only; `DECLARED` lists the Terraform
addresses it stands for, and the tests hold the two to the same set.

`python -m lakehouse.resources tfvars FILE` writes Terraform's variables from Settings (so
`.env` feeds Terraform as it feeds the code); `python -m lakehouse.resources ensure` runs the
bootstrap.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from lakehouse.aws import client
from lakehouse.config import Settings, load_settings
from lakehouse.stage_credentials import STAGES, role_name

# Values with no variable in .env; terraform/variables.tf has the same defaults (tested).
KINESIS_RETENTION_HOURS = 24
BRONZE_INFREQUENT_ACCESS_DAYS = 30
BRONZE_EXPIRATION_DAYS = 365
BRONZE_NONCURRENT_DAYS = 30
ABORT_MULTIPART_DAYS = 7
EXPORTS_INFREQUENT_ACCESS_DAYS = 30
EXPORTS_EXPIRATION_DAYS = 730
# Where stores upload their POS journals as CSV (ingestion/csv_landing.py); created objects under
# it are what the bronze bucket notifies the landing queue of.
LANDING_PREFIX = "landing/pos_csv/"
# arn:<partition>:sts::<account>:assumed-role/<role>/<session>: a session, not a principal.
_ASSUMED_ROLE = re.compile(r"^arn:[\w-]+:sts::\d{12}:assumed-role/(?P<role>[\w+=,.@-]+)/")
EXPORTS_PREFIX = "forecasts/"

LAKE_BUCKETS = ("bronze", "silver")
# Buckets with versioning, encryption and a public access block: the lake and the exports.
CONTROLLED_BUCKETS = (*LAKE_BUCKETS, "exports")
# Name of each stage's inline role policy, as in terraform/iam.tf.
STAGE_POLICY_NAMES = {
    "producer": "put-records",
    "ingestion": "stream-to-bronze",
    "spark": "bronze-to-silver",
    "alerts": "publish-alerts",
}

# Every resource of terraform/*.tf, by Terraform address; ensure_resources() creates each one.
DECLARED: tuple[str, ...] = (
    "aws_kinesis_stream.events",
    *(
        f"{kind}.{bucket}"
        for bucket in CONTROLLED_BUCKETS
        for kind in (
            "aws_s3_bucket",
            "aws_s3_bucket_versioning",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_public_access_block",
        )
    ),
    "aws_s3_bucket_lifecycle_configuration.bronze",
    "aws_s3_bucket_lifecycle_configuration.exports",
    "aws_sqs_queue.landing",
    "aws_sqs_queue_policy.landing",
    "aws_s3_bucket_notification.landing",
    "aws_sns_topic.alerts",
    "aws_sqs_queue.alerts",
    "aws_sqs_queue_policy.alerts",
    "aws_sns_topic_subscription.alerts_to_queue",
    *(f"aws_iam_role.{stage}" for stage in STAGES),
    *(f"aws_iam_role_policy.{stage}" for stage in STAGES),
)


@dataclass(frozen=True)
class Resources:
    """ARNs and URLs of what ensure_resources() made or found."""

    stream_arn: str
    buckets: tuple[str, ...]
    topic_arn: str
    queue_url: str
    role_arns: dict[str, str] = field(default_factory=dict)
    # False on the stack's S3 server, which has no versioning, encryption or lifecycle rules.
    bucket_controls: bool = True
    landing_queue_url: str = ""
    # False on the stack's S3 server, which sends no event notifications: csv_to_bronze then
    # finds uploads by listing every minute.
    bucket_notifications: bool = True


def terraform_variables(settings: Settings, iam_name_prefix: str | None = None) -> dict[str, object]:
    """Terraform's input variables (terraform/variables.tf) with the values the code uses."""
    return {
        "use_localstack": settings.uses_localstack,
        "aws_region": settings.aws_region,
        "aws_endpoint_url": settings.aws_endpoint_url or "",
        "aws_endpoint_url_s3": settings.aws_endpoint_url_s3 or "",
        "bucket_controls": lake_has_bucket_controls(settings),
        "kinesis_stream": settings.kinesis_stream,
        "kinesis_shards": settings.kinesis_shards,
        "kinesis_retention_hours": KINESIS_RETENTION_HOURS,
        "bronze_bucket": settings.bronze_bucket,
        "silver_bucket": settings.silver_bucket,
        "alerts_topic": settings.alerts_topic,
        "alerts_queue": settings.alerts_queue,
        "iam_name_prefix": iam_name_prefix or settings.stage_roles.name_prefix,
        "stage_role_principals": list(settings.stage_roles.trusted_principals),
        "bronze_infrequent_access_days": BRONZE_INFREQUENT_ACCESS_DAYS,
        "bronze_expiration_days": BRONZE_EXPIRATION_DAYS,
        "bronze_noncurrent_days": BRONZE_NONCURRENT_DAYS,
        "csv_landing_queue": settings.files.landing_queue,
        "exports_bucket": settings.files.exports_bucket,
        "exports_infrequent_access_days": EXPORTS_INFREQUENT_ACCESS_DAYS,
        "exports_expiration_days": EXPORTS_EXPIRATION_DAYS,
    }


def ensure_stream(
    settings: Settings,
    name: str | None = None,
    shards: int | None = None,
    retention_hours: int = KINESIS_RETENTION_HOURS,
) -> str:
    """Create the Kinesis stream if missing, wait until it is ACTIVE, set its retention; return its ARN."""
    kinesis = client("kinesis", settings)
    name = name or settings.kinesis_stream
    try:
        kinesis.create_stream(StreamName=name, ShardCount=shards or settings.kinesis_shards)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    waiter_config = {"Delay": 1, "MaxAttempts": 60}
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=waiter_config)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    current = summary["RetentionPeriodHours"]
    if current < retention_hours:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=retention_hours)
    elif current > retention_hours:
        kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=retention_hours)
    if current != retention_hours:
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=waiter_config)
    return summary["StreamARN"]


def ensure_bucket(settings: Settings, name: str) -> None:
    """Create the bucket if missing (no other configuration: see secure_bucket)."""
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


def lake_has_bucket_controls(settings: Settings) -> bool:
    """What Terraform is told, without asking a server: the lake has bucket controls unless it is
    on an S3 server of its own beside the emulator (the stack's S3Proxy, which has none of them).
    `bucket_controls_supported` asks the server itself, as the boto3 bootstrap does."""
    own_server = settings.aws_endpoint_url_s3 and settings.aws_endpoint_url_s3 != settings.aws_endpoint_url
    return not own_server


def bucket_controls_supported(settings: Settings, bucket: str) -> bool:
    """False when the S3 server answers bucket controls with NotImplemented.

    Versioning, default encryption, public access blocks and lifecycle rules are AWS's (LocalStack
    stores them too); the stack's disk-backed S3 server (S3Proxy) implements none of them, and on
    one laptop they would protect nothing. Terraform declares them for AWS all the same.
    """
    try:
        # Not GetBucketVersioning: S3Proxy answers that one (never enabled), then refuses the put.
        client("s3", settings).get_bucket_encryption(Bucket=bucket)
    except ClientError as error:
        # Any other answer (none configured yet, say) comes from a server that implements them.
        return error.response["Error"]["Code"] != "NotImplemented"
    return True


def secure_bucket(settings: Settings, name: str) -> None:
    """Versioning, SSE-S3 encryption at rest and a full public access block; all idempotent puts."""
    s3 = client("s3", settings)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
    )


def bronze_lifecycle_rule() -> dict:
    """The one lifecycle rule of bronze: cheaper storage after a month, gone after the replay window."""
    return {
        "ID": "old-bronze",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "Transitions": [{"Days": BRONZE_INFREQUENT_ACCESS_DAYS, "StorageClass": "STANDARD_IA"}],
        "Expiration": {"Days": BRONZE_EXPIRATION_DAYS},
        "NoncurrentVersionExpiration": {"NoncurrentDays": BRONZE_NONCURRENT_DAYS},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
    }


def expire_old_bronze(settings: Settings, name: str) -> None:
    client("s3", settings).put_bucket_lifecycle_configuration(
        Bucket=name, LifecycleConfiguration={"Rules": [bronze_lifecycle_rule()]}
    )


def exports_lifecycle_rule() -> dict:
    """Older forecast exports are kept, in cheaper storage after a month, for two years.

    Each gold load writes a new as_of folder and never rewrites an older one, so a reader can
    always compare today's forecast with the one it acted on; the rule only decides how long.
    """
    return {
        "ID": "old-exports",
        "Status": "Enabled",
        "Filter": {"Prefix": EXPORTS_PREFIX},
        "Transitions": [{"Days": EXPORTS_INFREQUENT_ACCESS_DAYS, "StorageClass": "STANDARD_IA"}],
        "Expiration": {"Days": EXPORTS_EXPIRATION_DAYS},
        "NoncurrentVersionExpiration": {"NoncurrentDays": BRONZE_NONCURRENT_DAYS},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
    }


def keep_old_exports(settings: Settings, name: str) -> None:
    client("s3", settings).put_bucket_lifecycle_configuration(
        Bucket=name, LifecycleConfiguration={"Rules": [exports_lifecycle_rule()]}
    )


def ensure_landing_queue(settings: Settings) -> tuple[str, str]:
    """The SQS queue the bronze bucket notifies of uploads under LANDING_PREFIX: (url, ARN).

    Its policy lets only S3, on behalf of the bronze bucket, send to it (as terraform/files.tf).
    """
    sqs = client("sqs", settings)
    queue_url = sqs.create_queue(QueueName=settings.files.landing_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={"Policy": json.dumps(landing_queue_policy(queue_arn, settings.bronze_bucket))},
    )
    return queue_url, queue_arn


def landing_queue_policy(queue_arn: str, bronze_bucket: str) -> dict:
    partition = queue_arn.split(":")[1]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:{partition}:s3:::{bronze_bucket}"}},
            }
        ],
    }


def landing_notification(queue_arn: str) -> dict:
    """The bronze bucket's notification: every object created under LANDING_PREFIX, to the queue."""
    return {
        "QueueConfigurations": [
            {
                "Id": "pos-csv-landed",
                "QueueArn": queue_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": LANDING_PREFIX}]}},
            }
        ]
    }


def notify_landing(settings: Settings, queue_arn: str) -> bool:
    """Ask the bronze bucket to notify the landing queue; False when the S3 server cannot.

    S3Proxy, the stack's disk-backed S3, answers NotImplemented (checked on 4.1.0): there the
    every-minute csv_to_bronze run lists LANDING_PREFIX instead, and Terraform declares the
    notification for AWS all the same.
    """
    try:
        client("s3", settings).put_bucket_notification_configuration(
            Bucket=settings.bronze_bucket, NotificationConfiguration=landing_notification(queue_arn)
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "NotImplemented":
            return False
        raise
    return True


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
    existing = [
        subscription["SubscriptionArn"]
        for subscription in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        if subscription["Endpoint"] == queue_arn
    ]
    if existing:
        sns.set_subscription_attributes(
            SubscriptionArn=existing[0], AttributeName="RawMessageDelivery", AttributeValue="true"
        )
    else:
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
    return topic_arn, queue_url


def _statement(sid: str, actions: list[str], resource: str) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def stage_policies(
    stream_arn: str,
    bronze_bucket: str,
    silver_bucket: str,
    topic_arn: str,
    landing_queue_arn: str,
    exports_bucket: str,
) -> dict[str, dict]:
    """Least-privilege policy of each stage, statement for statement as in terraform/iam.tf.

    Ingestion also takes the POS CSVs stores upload (moving them out of landing/, reading the
    landing queue); the Spark stage, which loads gold, also writes the forecast files.
    tests/unit/test_stage_policies.py holds every statement to calls the code makes, and every
    call to a statement.
    """
    partition = stream_arn.split(":")[1]  # aws, aws-cn or aws-us-gov, as for the buckets
    bronze_arn, silver_arn, exports_arn = (
        f"arn:{partition}:s3:::{name}" for name in (bronze_bucket, silver_bucket, exports_bucket)
    )
    bronze_objects, silver_objects = f"{bronze_arn}/*", f"{silver_arn}/*"
    statements = {
        "producer": [_statement("PutRecords", ["kinesis:PutRecords"], stream_arn)],
        "ingestion": [
            _statement(
                "ReadStream",
                [
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                ],
                stream_arn,
            ),
            # GetObject and ListBucket make a HEAD of a missing key answer 404 rather than 403.
            _statement("WriteBronze", ["s3:GetObject", "s3:PutObject"], bronze_objects),
            # csv_to_bronze asks whether the bucket notifies (S3Proxy cannot) before it lists.
            _statement("ListBronze", ["s3:GetBucketNotification", "s3:ListBucket"], bronze_arn),
            _statement("LandingFiles", ["s3:DeleteObject"], f"{bronze_arn}/landing/*"),
            _statement(
                "LandingQueue",
                ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                landing_queue_arn,
            ),
        ],
        "spark": [
            _statement("ReadBronzeObjects", ["s3:GetObject"], bronze_objects),
            _statement("ListBronze", ["s3:GetBucketLocation", "s3:ListBucket"], bronze_arn),
            _statement(
                "WriteSilverObjects",
                ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                silver_objects,
            ),
            _statement(
                "ListSilver",
                ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                silver_arn,
            ),
            _statement(
                "WriteExports", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], f"{exports_arn}/*"
            ),
            _statement("ListExports", ["s3:ListBucket"], exports_arn),
        ],
        "alerts": [_statement("PublishAlerts", ["sns:Publish"], topic_arn)],
    }
    return {stage: {"Version": "2012-10-17", "Statement": body} for stage, body in statements.items()}


def trusted_principals(settings: Settings) -> list[str]:
    """Who may assume a stage role: AWS_STAGE_ROLE_PRINCIPALS, else the caller (as in terraform/iam.tf).

    The caller is the principal whose key runs the bootstrap; a session of an assumed role (an
    ECS task, a CI job) is not a principal a trust policy can name, so it stands for its role,
    with the role's path, which only IAM knows (Terraform's aws_iam_session_context does the same).
    """
    if settings.stage_roles.trusted_principals:
        return list(settings.stage_roles.trusted_principals)
    caller = client("sts", settings).get_caller_identity()["Arn"]
    return [principal_of(caller, lambda role: client("iam", settings).get_role(RoleName=role)["Role"]["Arn"])]


def principal_of(caller: str, role_arn: Callable[[str], str]) -> str:
    """The principal a trust policy names for `caller`: itself, or for a role's session the role."""
    session = _ASSUMED_ROLE.match(caller)
    return caller if session is None else role_arn(session["role"])


def assume_role_policy(settings: Settings) -> dict:
    """The trust policy of every stage role: the trusted principals may assume it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": trusted_principals(settings)},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def ensure_stage_roles(
    settings: Settings, policies: dict[str, dict], iam_name_prefix: str | None = None
) -> dict[str, str]:
    """One role per stage with its inline policy; existing roles get the current documents.

    The stages assume them by name (AWS_IAM_NAME_PREFIX, lakehouse/stage_credentials.py)."""
    iam = client("iam", settings)
    trust = json.dumps(assume_role_policy(settings))
    role_arns = {}
    for stage in STAGES:
        name = role_name(iam_name_prefix or settings.stage_roles.name_prefix, stage)
        try:
            role_arns[stage] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            role_arns[stage] = iam.get_role(RoleName=name)["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=name, PolicyName=STAGE_POLICY_NAMES[stage], PolicyDocument=json.dumps(policies[stage])
        )
    return role_arns


def ensure_resources(settings: Settings, iam_name_prefix: str | None = None) -> Resources:
    """Create everything in DECLARED; safe to run any number of times."""
    stream_arn = ensure_stream(settings)
    buckets = (settings.bronze_bucket, settings.silver_bucket, settings.files.exports_bucket)
    for bucket in buckets:
        ensure_bucket(settings, bucket)
    controls = bucket_controls_supported(settings, settings.bronze_bucket)
    if controls:
        for bucket in buckets:
            secure_bucket(settings, bucket)
        expire_old_bronze(settings, settings.bronze_bucket)
        keep_old_exports(settings, settings.files.exports_bucket)
    landing_url, landing_arn = ensure_landing_queue(settings)
    notifications = notify_landing(settings, landing_arn)
    topic_arn, queue_url = ensure_alerts_channel(settings)
    policies = stage_policies(
        stream_arn,
        settings.bronze_bucket,
        settings.silver_bucket,
        topic_arn,
        landing_arn,
        settings.files.exports_bucket,
    )
    role_arns = ensure_stage_roles(settings, policies, iam_name_prefix)
    return Resources(
        stream_arn, buckets, topic_arn, queue_url, role_arns, controls, landing_url, notifications
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lakehouse.resources", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    tfvars = commands.add_parser("tfvars", help="write Terraform's variables from .env as JSON")
    tfvars.add_argument("path", type=Path)
    commands.add_parser("ensure", help="create the declared resources with boto3")
    arguments = parser.parse_args(argv)

    settings = load_settings()
    if arguments.command == "tfvars":
        arguments.path.parent.mkdir(parents=True, exist_ok=True)
        arguments.path.write_text(json.dumps(terraform_variables(settings), indent=2) + "\n")
        return 0
    resources = ensure_resources(settings)
    print(f"stream {resources.stream_arn}")
    print(f"buckets {', '.join(resources.buckets)}; topic {resources.topic_arn} -> {resources.queue_url}")
    print(f"roles {', '.join(resources.role_arns.values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
