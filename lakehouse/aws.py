"""boto3 clients built from Settings: LocalStack when AWS_ENDPOINT_URL is set, real AWS when empty.

S3 has an endpoint of its own (AWS_ENDPOINT_URL_S3, the name boto3 itself reads): the stack's
disk-backed S3 server, so the lake outlives LocalStack, which keeps everything in memory.

Stage code passes its stage (`client("kinesis", settings, stage="producer")`) and, with
AWS_STAGE_ROLES on, runs on that stage's role (lakehouse/stage_credentials.py); the bootstrap, the
stack manager and tests' setup pass none and keep the static key.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver

from lakehouse import stage_credentials
from lakehouse.config import Settings, load_settings

# Adaptive retries absorb LocalStack's and AWS's throttling; callers add their own retry
# only where partial failures come back inside a 200 response (Kinesis PutRecords).
# Checksums only where an operation requires them: botocore's default adds CRC32 headers and
# aws-chunked trailers to every upload, which S3 servers other than AWS may not understand.
_BOTO_CONFIG = Config(
    retries={"max_attempts": 10, "mode": "adaptive"},
    connect_timeout=5,
    read_timeout=60,
    s3={"addressing_style": "path"},
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
)


def endpoint_url(service: str, settings: Settings) -> str | None:
    """Where calls to `service` go: AWS_ENDPOINT_URL_S3 for S3 when set, else AWS_ENDPOINT_URL."""
    if service == "s3" and settings.aws_endpoint_url_s3:
        return settings.aws_endpoint_url_s3
    return settings.aws_endpoint_url


def s3_on_own_server(settings: Settings) -> bool:
    """True when S3 goes to a server of its own beside the emulator (the stack's S3Proxy).

    S3Proxy checks every request against its one configured key and answers a request carrying a
    session token (X-Amz-Security-Token) with 501 NotImplemented (measured on the stack's 4.1.0):
    it cannot take a role's temporary credentials, so S3 there stays on the static key.
    """
    return bool(settings.aws_endpoint_url_s3) and settings.aws_endpoint_url_s3 != settings.aws_endpoint_url


def runs_on_stage_role(service: str, settings: Settings) -> bool:
    """Whether a stage's client for `service` signs with the stage's role rather than the static key."""
    return settings.stage_roles.enabled and not (service == "s3" and s3_on_own_server(settings))


def stage_role_arn(settings: Settings, stage: str) -> str:
    """The ARN of the stage's role (for Spark's S3A, which assumes it in the JVM)."""
    return stage_credentials.role_arn(settings, stage, lambda: client("sts", settings))


class _StageRole(CredentialProvider):
    """Hands botocore a stage's refreshing role credentials, and nothing else."""

    METHOD = "stage-role"

    def __init__(self, credentials: object) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> object:
        return self._credentials


def client(service: str, settings: Settings | None = None, stage: str | None = None) -> Any:
    """A boto3 client for `service` pointed at the configured endpoint and region.

    With a `stage` (producer, ingestion, spark, alerts) and AWS_STAGE_ROLES on, it signs with the
    stage's assumed-role credentials; without one, with the static key (admin and setup code).
    """
    settings = settings or load_settings()
    if stage is not None:
        stage_credentials.check_stage(stage)
    core = botocore.session.Session()
    if stage is not None and runs_on_stage_role(service, settings):
        role = stage_credentials.credentials(settings, stage, lambda: client("sts", settings))
        core.register_component("credential_provider", CredentialResolver([_StageRole(role)]))
        keys = {}
    else:
        keys = {
            "aws_access_key_id": settings.aws_access_key_id or None,
            "aws_secret_access_key": settings.aws_secret_access_key or None,
        }
    return boto3.session.Session(botocore_session=core).client(
        service,
        region_name=settings.aws_region,
        endpoint_url=endpoint_url(service, settings),
        config=_BOTO_CONFIG,
        **keys,
    )
