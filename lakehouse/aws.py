"""boto3 clients built from Settings: LocalStack when AWS_ENDPOINT_URL is set, real AWS when empty."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from lakehouse.config import Settings, load_settings

# Adaptive retries absorb LocalStack's and AWS's throttling; callers add their own retry
# only where partial failures come back inside a 200 response (Kinesis PutRecords).
_BOTO_CONFIG = Config(
    retries={"max_attempts": 10, "mode": "adaptive"},
    connect_timeout=5,
    read_timeout=60,
    s3={"addressing_style": "path"},
)


def client(service: str, settings: Settings | None = None) -> Any:
    """A boto3 client for `service` pointed at the configured endpoint and region."""
    settings = settings or load_settings()
    return boto3.session.Session().client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        aws_access_key_id=settings.aws_access_key_id or None,
        aws_secret_access_key=settings.aws_secret_access_key or None,
        config=_BOTO_CONFIG,
    )
