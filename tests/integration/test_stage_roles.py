"""Per-stage roles on real LocalStack STS: each stage's client runs on its own assumed role.

LocalStack's free edition enforces no IAM, so what is checked here is who the calls are made as;
tests/unit/test_stage_policies.py checks what each role may do.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from lakehouse import aws, resources, stage_credentials
from lakehouse.config import Settings
from lakehouse.resources import ensure_stream
from producer.events import Event
from producer.kinesis import KinesisSink

pytestmark = pytest.mark.integration


@pytest.fixture
def roles(localstack: Settings) -> Settings:
    if not localstack.stage_roles.enabled:
        pytest.skip("AWS_STAGE_ROLES is off in this environment")
    return localstack


def _credentials(settings: Settings, stage: str):
    return stage_credentials.credentials(settings, stage, lambda: aws.client("sts", settings))


@pytest.mark.parametrize("stage", stage_credentials.STAGES)
def test_a_stage_client_runs_on_the_stages_assumed_role(roles: Settings, stage: str):
    static = aws.client("sts", roles).get_caller_identity()
    identity = aws.client("sts", roles, stage=stage).get_caller_identity()
    role = stage_credentials.role_name(roles.stage_roles.name_prefix, stage)
    partition = static["Arn"].split(":")[1]
    assert identity["Arn"].startswith(
        f"arn:{partition}:sts::{static['Account']}:assumed-role/{role}/{stage}-"
    )
    assert "assumed-role" not in static["Arn"], "admin code keeps the static key"


def test_a_stage_assumes_its_role_once_and_renews_before_expiry(roles: Settings):
    ingestion = _credentials(roles, "ingestion")
    assert _credentials(roles, "ingestion") is ingestion, "every client of the stage shares them"
    assert _credentials(roles, "producer") is not ingestion
    frozen = ingestion.get_frozen_credentials()
    assert frozen.token and frozen.access_key != roles.aws_access_key_id
    # Fresh from STS for an hour: botocore renews them 15 minutes before the end, not now.
    assert not ingestion.refresh_needed()


@pytest.fixture
def stream(roles: Settings, unique_name: str) -> Iterator[str]:
    ensure_stream(roles, unique_name, shards=1)
    yield unique_name
    aws.client("kinesis", roles).delete_stream(StreamName=unique_name, EnforceConsumerDeletion=True)


def test_the_producer_puts_records_as_its_role(roles: Settings, stream: str):
    """The producer's own sink signs PutRecords with the producer role's session credentials."""
    sink = KinesisSink(roles, stream, linger_seconds=0)
    sent: list[dict] = []
    sink.client.meta.events.register(
        "before-send.kinesis.PutRecords", lambda request, **_: sent.append(dict(request.headers))
    )
    event = Event(0, "e-1", "sale", "S001", 0, b'{"event_id": "e-1"}')
    summary = sink.send(iter([event]))
    assert summary.ok and summary.events_sent == 1, summary.as_dict()
    headers = {
        key.lower(): value.decode() if isinstance(value, bytes) else value for key, value in sent[0].items()
    }
    producer = _credentials(roles, "producer").get_frozen_credentials()
    assert headers["x-amz-security-token"] == producer.token
    assert f"Credential={producer.access_key}/" in headers["authorization"]


def test_the_lakes_s3_server_refuses_session_credentials(roles: Settings):
    """Why S3 on AWS_ENDPOINT_URL_S3 stays on the static key: S3Proxy answers a request carrying a
    session token with NotImplemented. Should it ever take them, the stages can move to roles."""
    if not aws.s3_on_own_server(roles):
        pytest.skip("S3 goes to LocalStack here, which takes session credentials")
    assert not aws.runs_on_stage_role("s3", roles)
    frozen = _credentials(roles, "ingestion").get_frozen_credentials()
    with_session = boto3.session.Session(
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
        region_name=roles.aws_region,
    ).client("s3", endpoint_url=roles.aws_endpoint_url_s3)
    with pytest.raises(ClientError) as refused:
        with_session.list_buckets()
    assert refused.value.response["Error"]["Code"] == "NotImplemented"
    aws.client("s3", roles, stage="ingestion").list_buckets()  # the stage's S3 client: the static key


def test_the_stage_roles_trust_the_caller_and_a_session_stands_for_its_role(roles: Settings):
    iam = aws.client("iam", roles)
    caller = aws.client("sts", roles).get_caller_identity()["Arn"]
    assert resources.trusted_principals(roles) == [caller]

    def role_of(stage: str) -> dict:
        name = stage_credentials.role_name(roles.stage_roles.name_prefix, stage)
        return iam.get_role(RoleName=name)["Role"]

    for stage in stage_credentials.STAGES:
        (statement,) = role_of(stage)["AssumeRolePolicyDocument"]["Statement"]
        trusted = statement["Principal"]["AWS"]
        assert ([trusted] if isinstance(trusted, str) else trusted) == [caller], stage

    # A stage's session (as an ECS task or CI job would run the bootstrap) names its role.
    session = aws.client("sts", roles, stage="spark").get_caller_identity()["Arn"]
    resolved = resources.principal_of(session, lambda name: iam.get_role(RoleName=name)["Role"]["Arn"])
    assert resolved == role_of("spark")["Arn"]
