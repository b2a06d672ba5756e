"""Terraform and the boto3 bootstrap create the same resources, checked on LocalStack with boto3.

Both paths run under unique names and go through one probe per Terraform resource type, so a
resource declared in terraform/ but missing (or configured differently) in lakehouse/resources.py
fails here, and so does a policy document that differs by one action.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from lakehouse import resources
from lakehouse.aws import client
from lakehouse.config import REPO_ROOT, Settings
from ops.stack import terraform as terraform_setup

pytestmark = pytest.mark.integration


@pytest.fixture
def named(localstack: Settings, unique_name: str) -> Settings:
    """Settings whose resource names no other run uses; the IAM prefix is unique_name too."""
    return dataclasses.replace(
        localstack,
        kinesis_stream=f"{unique_name}-events",
        kinesis_shards=1,
        bronze_bucket=f"{unique_name}-bronze",
        silver_bucket=f"{unique_name}-silver",
        alerts_topic=f"{unique_name}-alerts",
        alerts_queue=f"{unique_name}-inbox",
        files=dataclasses.replace(
            localstack.files, landing_queue=f"{unique_name}-landing", exports_bucket=f"{unique_name}-exports"
        ),
    )


BUCKET_CONTROLS = {
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_lifecycle_configuration",
}


def _actions_as_lists(document: dict) -> dict:
    """IAM documents may hold one action as a string or as a one-item list; compare as lists."""
    statements = []
    for statement in document["Statement"]:
        action = statement["Action"]
        statements.append({**statement, "Action": sorted([action] if isinstance(action, str) else action)})
    return {**document, "Statement": statements}


class Probe:
    """Checks, with boto3, that one Terraform resource exists as declared."""

    def __init__(self, settings: Settings, iam_prefix: str):
        self.settings = settings
        self.iam_prefix = iam_prefix
        self.buckets = {
            "bronze": settings.bronze_bucket,
            "silver": settings.silver_bucket,
            "exports": settings.files.exports_bucket,
        }
        self.s3 = client("s3", settings)
        # The stack's disk-backed S3 server has no bucket controls (lakehouse/resources.py).
        self.bucket_controls = resources.bucket_controls_supported(settings, settings.bronze_bucket)
        self.sns = client("sns", settings)
        self.sqs = client("sqs", settings)
        self.iam = client("iam", settings)
        self.trusted = resources.trusted_principals(settings)
        summary = client("kinesis", settings).describe_stream_summary(StreamName=settings.kinesis_stream)
        self.stream = summary["StreamDescriptionSummary"]
        self.topic_arn = self.sns.create_topic(Name=settings.alerts_topic)["TopicArn"]  # idempotent lookup
        self.queue_url = self.sqs.get_queue_url(QueueName=settings.alerts_queue)["QueueUrl"]
        self.queue_arn = self._arn(self.queue_url)
        self.landing_url = self.sqs.get_queue_url(QueueName=settings.files.landing_queue)["QueueUrl"]

    def _arn(self, queue_url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def check(self, address: str) -> None:
        kind, name = address.split(".")
        if kind in BUCKET_CONTROLS and not self.bucket_controls:
            return
        getattr(self, kind)(name)

    def aws_kinesis_stream(self, _: str) -> None:
        assert self.stream["StreamStatus"] == "ACTIVE"
        assert self.stream["OpenShardCount"] == self.settings.kinesis_shards
        assert self.stream["RetentionPeriodHours"] == resources.KINESIS_RETENTION_HOURS

    def aws_s3_bucket(self, name: str) -> None:
        self.s3.head_bucket(Bucket=self.buckets[name])

    def aws_s3_bucket_versioning(self, name: str) -> None:
        assert self.s3.get_bucket_versioning(Bucket=self.buckets[name])["Status"] == "Enabled"

    def aws_s3_bucket_server_side_encryption_configuration(self, name: str) -> None:
        rules = self.s3.get_bucket_encryption(Bucket=self.buckets[name])["ServerSideEncryptionConfiguration"]
        assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    def aws_s3_bucket_public_access_block(self, name: str) -> None:
        block = self.s3.get_public_access_block(Bucket=self.buckets[name])["PublicAccessBlockConfiguration"]
        assert all(block[flag] for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls"))
        assert block["RestrictPublicBuckets"]

    def aws_s3_bucket_lifecycle_configuration(self, name: str) -> None:
        (rule,) = self.s3.get_bucket_lifecycle_configuration(Bucket=self.buckets[name])["Rules"]
        expected = {"bronze": resources.bronze_lifecycle_rule, "exports": resources.exports_lifecycle_rule}[
            name
        ]()
        for key in ("ID", "Status", "Transitions", "Expiration", "NoncurrentVersionExpiration"):
            assert rule[key] == expected[key], key
        assert rule["AbortIncompleteMultipartUpload"] == expected["AbortIncompleteMultipartUpload"]

    def aws_sns_topic(self, _: str) -> None:
        self.sns.get_topic_attributes(TopicArn=self.topic_arn)

    def aws_sqs_queue(self, name: str) -> None:
        if name == "landing":
            assert self.landing_url.endswith(f"/{self.settings.files.landing_queue}")
        else:
            assert self.queue_url.endswith(f"/{self.settings.alerts_queue}")

    def aws_sqs_queue_policy(self, name: str) -> None:
        url = self.landing_url if name == "landing" else self.queue_url
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        (statement,) = json.loads(attributes["Attributes"]["Policy"])["Statement"]
        if name == "landing":
            assert (
                statement
                == resources.landing_queue_policy(self._arn(url), self.settings.bronze_bucket)["Statement"][0]
            )
            return
        assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Resource"] == self.queue_arn
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": self.topic_arn}}

    def aws_s3_bucket_notification(self, _: str) -> None:
        """Declared for AWS; the stack's S3 server (S3Proxy) answers NotImplemented, checked here."""
        try:
            found = self.s3.get_bucket_notification_configuration(Bucket=self.settings.bronze_bucket)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "NotImplemented"
            return
        (queue,) = found["QueueConfigurations"]
        assert queue["QueueArn"] == self._arn(self.landing_url)
        assert queue["Events"] == ["s3:ObjectCreated:*"]
        assert queue["Filter"]["Key"]["FilterRules"] == [
            {"Name": "Prefix", "Value": resources.LANDING_PREFIX}
        ]

    def aws_sns_topic_subscription(self, _: str) -> None:
        subscriptions = self.sns.list_subscriptions_by_topic(TopicArn=self.topic_arn)["Subscriptions"]
        (subscription,) = [s for s in subscriptions if s["Endpoint"] == self.queue_arn]
        attributes = self.sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])
        assert attributes["Attributes"]["RawMessageDelivery"] == "true"
        # And it delivers: an alert published to the topic arrives in the queue as sent.
        self.sns.publish(TopicArn=self.topic_arn, Message='{"probe": true}')
        deadline, bodies = time.monotonic() + 20, []
        while not bodies and time.monotonic() < deadline:
            received = self.sqs.receive_message(QueueUrl=self.queue_url, WaitTimeSeconds=2)
            bodies = [message["Body"] for message in received.get("Messages", [])]
        assert bodies == ['{"probe": true}']

    def aws_iam_role(self, stage: str) -> None:
        role = self.iam.get_role(RoleName=f"{self.iam_prefix}-{stage}")["Role"]
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        trusted = statement["Principal"]["AWS"]
        assert sorted([trusted] if isinstance(trusted, str) else trusted) == sorted(self.trusted)

    def aws_iam_role_policy(self, stage: str) -> None:
        document = self.iam.get_role_policy(
            RoleName=f"{self.iam_prefix}-{stage}", PolicyName=resources.STAGE_POLICY_NAMES[stage]
        )["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        expected = resources.stage_policies(
            self.stream["StreamARN"],
            self.settings.bronze_bucket,
            self.settings.silver_bucket,
            self.topic_arn,
            self._arn(self.landing_url),
            self.settings.files.exports_bucket,
        )[stage]
        assert _actions_as_lists(document) == _actions_as_lists(expected)


def _check_every_declared_resource(settings: Settings, iam_prefix: str) -> None:
    probe = Probe(settings, iam_prefix)
    for address in resources.DECLARED:
        probe.check(address)


def test_bootstrap_creates_every_declared_resource_idempotently(named: Settings, unique_name: str):
    first = resources.ensure_resources(named, iam_name_prefix=unique_name)
    second = resources.ensure_resources(named, iam_name_prefix=unique_name)
    assert first == second
    assert set(first.role_arns) == set(resources.STAGES)
    # The stack's S3Proxy sends no notifications: csv_to_bronze's every-minute listing stands in.
    assert first.bucket_notifications is resources.bucket_controls_supported(named, named.bronze_bucket)
    _check_every_declared_resource(named, unique_name)


def _runner(workdir: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Runs terraform in `workdir` against the mirror only, as `make tf-apply` does."""
    rc_file = workdir / "terraformrc"
    rc_file.write_text(terraform_setup.cli_config("mirror"))
    environment = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(rc_file),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
    }

    def run(*arguments: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [terraform_setup.find_cli(), f"-chdir={workdir}", *arguments],
            capture_output=True,
            text=True,
            env=environment,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, f"terraform {arguments[0]}:\n{result.stdout[-3000:]}\n{result.stderr}"
        return result

    return run


@pytest.mark.skipif(
    terraform_setup.find_cli() is None or not terraform_setup.mirror_built(),
    reason="no terraform or no AWS provider mirror: run make terraform-offline",
)
def test_terraform_apply_creates_the_declared_resources_and_destroy_removes_them(
    named: Settings, unique_name: str, tmp_path: Path
):
    for source in (REPO_ROOT / "terraform").glob("*.tf"):
        shutil.copy(source, tmp_path / source.name)
    variables = resources.terraform_variables(named, iam_name_prefix=unique_name)
    (tmp_path / "test.tfvars.json").write_text(json.dumps(variables))
    terraform = _runner(tmp_path)

    terraform("init", "-input=false")
    terraform("validate")
    try:
        terraform("apply", "-input=false", "-auto-approve", "-var-file=test.tfvars.json")
        _check_every_declared_resource(named, unique_name)
        outputs = json.loads(terraform("output", "-json").stdout)
        assert outputs["buckets"]["value"] == {
            "bronze": named.bronze_bucket,
            "silver": named.silver_bucket,
            "exports": named.files.exports_bucket,
        }
        # A second apply finds nothing to change: the configuration reads back what it wrote.
        plan = terraform("plan", "-input=false", "-detailed-exitcode", "-var-file=test.tfvars.json")
        assert "No changes" in plan.stdout
    finally:
        terraform("destroy", "-input=false", "-auto-approve", "-var-file=test.tfvars.json")

    with pytest.raises(ClientError):
        client("s3", named).head_bucket(Bucket=named.bronze_bucket)
    with pytest.raises(ClientError):
        client("iam", named).get_role(RoleName=f"{unique_name}-producer")
    streams = client("kinesis", named).list_streams()["StreamNames"]
    assert named.kinesis_stream not in streams
