"""boto3 clients built from Settings: LocalStack when AWS_ENDPOINT_URL is set, real AWS when empty.

S3 has an endpoint of its own (AWS_ENDPOINT_URL_S3, the name boto3 itself reads): the stack's
disk-backed S3 server, so the lake outlives LocalStack, which keeps everything in memory.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

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


def client(service: str, settings: Settings | None = None) -> Any:
    """A boto3 client for `service` pointed at the configured endpoint and region."""
    settings = settings or load_settings()
    return boto3.session.Session().client(
        service,
        region_name=settings.aws_region,
        endpoint_url=endpoint_url(service, settings),
        aws_access_key_id=settings.aws_access_key_id or None,
        aws_secret_access_key=settings.aws_secret_access_key or None,
        config=_BOTO_CONFIG,
    )
