"""Each pipeline stage's AWS credentials: its own IAM role, assumed through STS.

One static key everywhere would let any stage do what any other may: a producer could overwrite
bronze, the alerts publisher could read the landing queue. With AWS_STAGE_ROLES on,
`lakehouse.aws.client(service, settings, stage=...)` signs with temporary credentials of the role
`<AWS_IAM_NAME_PREFIX>-<stage>`, which the static key (or AWS's default credential chain) assumes.
The bootstrap (lakehouse/resources.py) and terraform/iam.tf create the roles and their policies;
LocalStack's free edition enforces none of it, so tests/unit/test_stage_policies.py checks every
call each stage makes against its policy instead.

Credentials are cached per stage for the life of the process and refreshed by botocore shortly
before they expire (15 minutes ahead of the hour they last), so a long-running loop (pos_live, the
streaming drain) never signs with expired ones and assumes each role about once in 45 minutes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from botocore.credentials import DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from lakehouse.config import Settings

STAGES = ("producer", "ingestion", "spark", "alerts")
# AWS's default maximum session of a role; botocore refreshes 15 minutes before the end.
SESSION_SECONDS = 3600

_lock = threading.Lock()
_callers: dict[tuple, tuple[str, str]] = {}
_credentials: dict[tuple, DeferredRefreshableCredentials] = {}


class StageCredentialsError(RuntimeError):
    """A stage could not get its role's credentials; the message says which role and what to do."""


def check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: AWS clients run as one of {', '.join(STAGES)}")
    return stage


def role_name(prefix: str, stage: str) -> str:
    """`<prefix>-<stage>`, as the bootstrap and terraform/iam.tf name the roles."""
    return f"{prefix}-{check_stage(stage)}"


def _source(settings: Settings) -> tuple:
    """What identifies the assuming principal: where STS is, and the key that calls it."""
    return (settings.aws_endpoint_url, settings.aws_region, settings.aws_access_key_id)


def _advice(stage: str, what: str, error: Exception) -> StageCredentialsError:
    return StageCredentialsError(
        f"the {stage} stage could not {what} through STS ({error}): create the roles with `make up` "
        "(or `make tf-apply`) and let the configured key assume them, or set AWS_STAGE_ROLES=false in .env"
    )


def role_arn(settings: Settings, stage: str, sts: Callable[[], Any]) -> str:
    """The ARN of the stage's role in the account of the configured key (one STS call per process)."""
    source = _source(settings)
    if source not in _callers:
        try:
            identity = sts().get_caller_identity()
        except (BotoCoreError, ClientError) as error:
            raise _advice(stage, "find the account of the configured key", error) from error
        _callers[source] = (identity["Arn"].split(":")[1], identity["Account"])
    partition, account = _callers[source]
    return f"arn:{partition}:iam::{account}:role/{role_name(settings.stage_roles.name_prefix, stage)}"


def credentials(settings: Settings, stage: str, sts: Callable[[], Any]) -> DeferredRefreshableCredentials:
    """The stage's refreshing role credentials, shared by every client of the stage in this process.

    `sts` builds an STS client on the static key; nothing is called until a request is signed.
    """
    key = (*_source(settings), settings.stage_roles.name_prefix, check_stage(stage))
    with _lock:
        if key not in _credentials:
            _credentials[key] = DeferredRefreshableCredentials(
                refresh_using=lambda: _assume(settings, stage, sts), method="sts-assume-role"
            )
        return _credentials[key]


def _assume(settings: Settings, stage: str, sts: Callable[[], Any]) -> dict[str, str]:
    arn = role_arn(settings, stage, sts)
    try:
        response = sts().assume_role(
            RoleArn=arn,
            # Names the process in the assumed-role ARN (and in CloudTrail on AWS).
            RoleSessionName=f"{stage}-{os.getpid()}",
            DurationSeconds=SESSION_SECONDS,
        )
    except (BotoCoreError, ClientError) as error:
        raise _advice(stage, f"assume {arn}", error) from error
    issued = response["Credentials"]
    return {
        "access_key": issued["AccessKeyId"],
        "secret_key": issued["SecretAccessKey"],
        "token": issued["SessionToken"],
        "expiry_time": issued["Expiration"].isoformat(),
    }
