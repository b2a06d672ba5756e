"""terraform/ and the code cannot drift: same names, same defaults, same resources, same policies.

The .tf files are read with a few regular expressions (no HCL library): they only need to find
`resource "type" "name"` headers, `variable` blocks with literal defaults, and the statements of
the IAM policies, all written in `terraform fmt` style.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from lakehouse import resources
from lakehouse.config import REPO_ROOT, Settings, load_settings, reload_settings
from ops.stack.terraform import find_cli

pytestmark = pytest.mark.unit

TERRAFORM_DIR = REPO_ROOT / "terraform"
# What an S3 server may not implement (the stack's S3Proxy implements none of them).
CONTROL_KINDS = {
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_notification",
}


def _tf_source() -> str:
    """Every .tf file, full-line comments removed (HCL's `#` and `//`)."""
    text = "\n".join(path.read_text() for path in sorted(TERRAFORM_DIR.glob("*.tf")))
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("#", "//")))


def _blocks(source: str, header: str) -> dict[str, str]:
    """Body of each top-level block whose header matches `header` (a regex with one or two groups)."""
    found = {}
    for match in re.finditer(rf"^{header}\s*\{{", source, re.MULTILINE):
        depth, start = 0, match.end() - 1
        for position in range(start, len(source)):
            depth += {"{": 1, "}": -1}.get(source[position], 0)
            if depth == 0:
                key = ".".join(group for group in match.groups() if group)
                assert key not in found, f"{key} is declared twice"
                found[key] = source[start + 1 : position]
                break
    return found


def _variable_defaults(source: str) -> dict[str, object]:
    defaults = {}
    for name, body in _blocks(source, r'variable\s+"([\w-]+)"').items():
        match = re.search(r"^\s{2}default\s*=\s*(.+?)\s*$", body, re.MULTILINE)
        assert match, f"variable {name} has no default"
        defaults[name] = json.loads(match.group(1))  # strings, numbers and booleans are JSON too
    return defaults


@pytest.fixture(scope="module")
def source() -> str:
    return _tf_source()


@pytest.fixture(scope="module")
def default_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings from .env.example alone: neither .env nor the environment."""
    return load_settings(env_file=tmp_path_factory.mktemp("env") / "absent.env", environ={})


# The Settings fields that name or size a resource, the resource, and its naming attribute.
NAMED_BY_SETTINGS = {
    "kinesis_stream": ("aws_kinesis_stream.events", "name"),
    "kinesis_shards": ("aws_kinesis_stream.events", "shard_count"),
    "bronze_bucket": ("aws_s3_bucket.bronze", "bucket"),
    "silver_bucket": ("aws_s3_bucket.silver", "bucket"),
    "alerts_topic": ("aws_sns_topic.alerts", "name"),
    "alerts_queue": ("aws_sqs_queue.alerts", "name"),
}


def test_resource_names_are_variables_defaulting_to_env_example(source: str, default_settings: Settings):
    defaults = _variable_defaults(source)
    declared = _blocks(source, r'resource\s+"(\w+)"\s+"(\w+)"')
    for field, (address, attribute) in NAMED_BY_SETTINGS.items():
        assert defaults[field] == getattr(default_settings, field), field
        assert re.search(rf"^\s*{attribute}\s*=\s*var\.{field}\s*$", declared[address], re.MULTILINE), (
            f"{address}.{attribute} should be var.{field}"
        )


def test_code_feeds_every_variable_and_defaults_match(source: str, default_settings: Settings):
    """`make tf-apply` with an untouched .env applies exactly the declared defaults."""
    assert resources.terraform_variables(default_settings) == _variable_defaults(source)


def test_bootstrap_declares_the_same_resources_as_terraform(source: str):
    declared = set(_blocks(source, r'resource\s+"(\w+)"\s+"(\w+)"'))
    assert len(resources.DECLARED) == len(set(resources.DECLARED))
    assert set(resources.DECLARED) == declared


def test_iam_policies_match_the_bootstrap_statement_for_statement(source: str):
    policies = resources.stage_policies(
        "arn:aws:kinesis:us-east-1:000000000000:stream/s",
        "b",
        "s",
        "arn:aws:sns:us-east-1:0:t",
        "arn:aws:sqs:us-east-1:0:q",
        "e",
    )
    bodies = _blocks(source, r'resource\s+"(aws_iam_role_policy)"\s+"(\w+)"')
    for stage in resources.STAGES:
        body = bodies[f"aws_iam_role_policy.{stage}"]
        assert re.search(rf'^\s{{2}}name\s*=\s*"{resources.STAGE_POLICY_NAMES[stage]}"', body, re.MULTILINE)
        sids = re.findall(r'Sid\s*=\s*"(\w+)"', body)
        actions = [
            sorted(re.findall(r'"([\w:]+)"', listed))
            for listed in re.findall(r'Action\s*=\s*(\[[^\]]*\]|"[^"]*")', body)
        ]
        expected = [(s["Sid"], sorted(s["Action"])) for s in policies[stage]["Statement"]]
        assert list(zip(sids, actions, strict=True)) == expected, stage


def test_stage_policies_are_least_privilege():
    stream = "arn:aws:kinesis:us-east-1:000000000000:stream/pos-events"
    topic = "arn:aws:sns:us-east-1:000000000000:stock-alerts"
    landing = "arn:aws:sqs:us-east-1:000000000000:stock-lakehouse-landing"
    policies = resources.stage_policies(stream, "bronze", "silver", topic, landing, "exports")
    granted = {
        stage: {(action, s["Resource"]) for s in policy["Statement"] for action in s["Action"]}
        for stage, policy in policies.items()
    }
    assert granted["producer"] == {("kinesis:PutRecords", stream)}
    assert granted["alerts"] == {("sns:Publish", topic)}
    for stage, pairs in granted.items():
        for action, resource in pairs:
            assert "*" not in action and resource != "*", (stage, action)
    # Only ingestion writes bronze, only Spark writes silver and the exports, and ingestion deletes
    # only the uploads it moved out of landing/ (its checkpoints are in PostgreSQL).
    writes = {"s3:PutObject", "s3:DeleteObject"}
    assert not any(a in writes and r.startswith("arn:aws:s3:::bronze") for a, r in granted["spark"])
    assert not any(r.startswith("arn:aws:s3:::silver") for _, r in granted["ingestion"])
    assert {r for a, r in granted["ingestion"] if a == "s3:DeleteObject"} == {"arn:aws:s3:::bronze/landing/*"}
    assert not any(r.startswith("arn:aws:s3:::exports") for _, r in granted["ingestion"])
    assert {r for _, r in granted["spark"] if "exports" in r} == {
        "arn:aws:s3:::exports",
        "arn:aws:s3:::exports/*",
    }


def test_provider_is_pinned_to_the_version_the_mirror_builds(source: str):
    pinned = re.search(r'source\s*=\s*"hashicorp/aws"\s*\n\s*version\s*=\s*"=\s*([\d.]+)"', source)
    assert pinned, "versions.tf should pin hashicorp/aws to one exact version"
    makefile = (TERRAFORM_DIR / "terraform.mk").read_text()
    built = re.search(r"^TF_AWS_PROVIDER_VERSION\s*:?=\s*(\S+)", makefile, re.MULTILINE)
    assert built and built.group(1) == pinned.group(1)


def test_tfvars_command_writes_settings_from_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("KINESIS_STREAM", "from-environment")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    reload_settings()  # a process reads its settings once; this one changed its environment
    target = tmp_path / "vars" / "lakehouse.tfvars.json"
    try:
        assert resources.main(["tfvars", str(target)]) == 0
    finally:
        monkeypatch.undo()
        reload_settings()
    written = json.loads(target.read_text())
    assert written["kinesis_stream"] == "from-environment"
    assert written["use_localstack"] is False


@pytest.mark.skipif(find_cli() is None, reason="no terraform binary: run make terraform-offline")
def test_terraform_fmt_is_clean():
    result = subprocess.run(
        [find_cli(), "fmt", "-check", "-diff", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("endpoint", "s3_endpoint", "controls"),
    [
        ("", "", True),  # real AWS
        ("http://127.0.0.1:4566", "", True),  # LocalStack's own S3
        ("http://127.0.0.1:4566", "http://127.0.0.1:4566", True),
        ("http://127.0.0.1:4566", "http://127.0.0.1:4580", False),  # the stack's S3Proxy
    ],
)
def test_terraform_sets_bucket_controls_only_where_the_lake_s_s3_has_them(
    default_settings: Settings, endpoint: str, s3_endpoint: str, controls: bool
):
    settings = dataclasses.replace(
        default_settings, aws_endpoint_url=endpoint or None, aws_endpoint_url_s3=s3_endpoint or None
    )
    variables = resources.terraform_variables(settings)
    assert variables["bucket_controls"] is controls
    assert variables["aws_endpoint_url_s3"] == s3_endpoint


def test_every_bucket_control_follows_the_bucket_controls_variable(source: str):
    declared = _blocks(source, r'resource\s+"(\w+)"\s+"(\w+)"')
    controls = [address for address in declared if address.split(".")[0] in CONTROL_KINDS]
    assert len(controls) == 12
    for address in controls:
        assert re.search(
            r"^\s{2}count\s*=\s*var\.bucket_controls \? 1 : 0$", declared[address], re.MULTILINE
        ), f"{address} is not conditional on var.bucket_controls: S3Proxy would refuse it"


def test_a_role_session_is_trusted_as_its_role_and_anything_else_as_itself():
    paths = {"stages": "arn:aws:iam::123456789012:role/ecs/stages"}
    session = "arn:aws:sts::123456789012:assumed-role/stages/task-7"
    assert resources.principal_of(session, paths.__getitem__) == paths["stages"]
    for caller in ("arn:aws:iam::123456789012:user/ci", "arn:aws:iam::000000000000:root"):
        assert resources.principal_of(caller, paths.__getitem__) == caller
