"""Every AWS call each stage's code makes, evaluated against the stage's IAM policy.

LocalStack's free edition does not enforce IAM, so a stage calling what its role does not allow
would pass every integration test and fail on AWS. This stands in for enforcement:

- CALLS lists, per function of the stages' code, each boto3 call it makes and the IAM actions
  and resources the call needs; BUILDS lists where clients are built and for which stage.
  `test_the_tables_are_the_codes_calls` reads the code (producer/, ingestion/, spark_jobs/,
  mage_project/) and fails on a boto3 call or a client that is not in them;
- `test_every_call_a_stage_makes_is_allowed` evaluates each call against the stage's policy
  (lakehouse/resources.stage_policies, statement for statement terraform/iam.tf);
- `test_every_statement_is_needed` holds each policy to the calls: nothing granted that no call
  needs;
- the denial tests check what a stage must not do: another stage's bucket, queue or topic, and a
  resource of another name or another account.
"""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime

import boto3
import pytest

from ingestion.bronze_format import object_key
from ingestion.csv_landing import LOADED_PREFIX, REJECTED_PREFIX
from lakehouse.config import REPO_ROOT, read_settings
from lakehouse.policy_check import PolicyError, allows, evaluate
from lakehouse.resources import LANDING_PREFIX, stage_policies
from lakehouse.stage_credentials import STAGES
from spark_jobs.gold.exports import FILES, MANIFEST, folder

pytestmark = pytest.mark.unit

SETTINGS = read_settings(env_file=None, environ={})
ACCOUNT, OTHER_ACCOUNT, REGION = "123456789012", "210987654321", SETTINGS.aws_region
BRONZE, SILVER, EXPORTS = SETTINGS.bronze_bucket, SETTINGS.silver_bucket, SETTINGS.files.exports_bucket
STREAM = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{SETTINGS.kinesis_stream}"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:{SETTINGS.alerts_topic}"
LANDING_QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{SETTINGS.files.landing_queue}"
ALERTS_QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{SETTINGS.alerts_queue}"
POLICIES = stage_policies(STREAM, BRONZE, SILVER, TOPIC, LANDING_QUEUE, EXPORTS)


def bucket(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def obj(name: str, key: str) -> str:
    return f"arn:aws:s3:::{name}/{key}"


# Keys as the code builds them.
BRONZE_KEY = object_key(
    SETTINGS.kinesis_stream, "shardId-000000000001", "49", "50", datetime(2026, 12, 1, tzinfo=UTC)
)
UPLOAD_KEY = f"{LANDING_PREFIX}S001-2026-12-01.csv"
EXPORT_BASE = folder("S001", date(2026, 12, 1))
EXPORT_LOAD_KEY = f"{EXPORT_BASE}load=17/{FILES['csv']}"

# (file, function) -> (stage, {boto3 method: [(IAM action, resource), ...]}). Stage None: the
# function is not a stage's and runs on the static key (the reason is given beside it).
CALLS: dict[tuple[str, str], tuple[str | None, dict[str, list[tuple[str, str]]]]] = {
    ("producer/kinesis.py", "KinesisSink._put"): (
        "producer",
        {"put_records": [("kinesis:PutRecords", STREAM)]},
    ),
    # The drain: kinesis_to_bronze, kinesis_to_bronze_stream, pos_live's first step.
    ("ingestion/checkpoints.py", "StreamIdentity.of"): (
        "ingestion",
        {"describe_stream_summary": [("kinesis:DescribeStreamSummary", STREAM)]},
    ),
    ("ingestion/drain.py", "list_shards"): ("ingestion", {"list_shards": [("kinesis:ListShards", STREAM)]}),
    ("ingestion/drain.py", "ShardReader._new_iterator"): (
        "ingestion",
        {"get_shard_iterator": [("kinesis:GetShardIterator", STREAM)]},
    ),
    ("ingestion/drain.py", "ShardReader.read"): (
        "ingestion",
        {"get_records": [("kinesis:GetRecords", STREAM)]},
    ),
    # HeadObject is authorized as GetObject.
    ("ingestion/drain.py", "BronzeWriter.exists"): (
        "ingestion",
        {"head_object": [("s3:GetObject", obj(BRONZE, BRONZE_KEY))]},
    ),
    # Every bronze write, the drain's and csv_to_bronze's, with their own ingestion client.
    ("ingestion/bronze_store.py", "put_once"): (
        "ingestion",
        {"put_object": [("s3:PutObject", obj(BRONZE, BRONZE_KEY))]},
    ),
    # Reconciliation in `make demo` and the tests: not a stage.
    ("ingestion/drain.py", "bronze_lines"): (None, {"list_objects_v2": [], "get_object": []}),
    # csv_to_bronze.
    ("ingestion/csv_landing.py", "landed_files"): (
        "ingestion",
        {"list_objects_v2": [("s3:ListBucket", bucket(BRONZE))]},
    ),
    ("ingestion/csv_landing.py", "notifications_supported"): (
        "ingestion",
        {"get_bucket_notification_configuration": [("s3:GetBucketNotification", bucket(BRONZE))]},
    ),
    ("ingestion/csv_landing.py", "take_notifications"): (
        "ingestion",
        {
            "get_queue_url": [("sqs:GetQueueUrl", LANDING_QUEUE)],
            "receive_message": [("sqs:ReceiveMessage", LANDING_QUEUE)],
            # DeleteMessageBatch is authorized as DeleteMessage.
            "delete_message_batch": [("sqs:DeleteMessage", LANDING_QUEUE)],
        },
    ),
    ("ingestion/csv_landing.py", "CsvLoader.load"): (
        "ingestion",
        {"get_object": [("s3:GetObject", obj(BRONZE, UPLOAD_KEY))]},
    ),
    ("ingestion/csv_landing.py", "CsvLoader._reject"): (
        "ingestion",
        {"put_object": [("s3:PutObject", obj(BRONZE, f"{REJECTED_PREFIX}S001-2026-12-01.csv.reason.txt"))]},
    ),
    # A move: a copy (read the source, write the target), then the upload deleted.
    ("ingestion/csv_landing.py", "CsvLoader._move"): (
        "ingestion",
        {
            "copy_object": [
                ("s3:GetObject", obj(BRONZE, UPLOAD_KEY)),
                ("s3:PutObject", obj(BRONZE, f"{LOADED_PREFIX}0123456789abcdef/S001-2026-12-01.csv")),
            ],
            "delete_object": [("s3:DeleteObject", obj(BRONZE, UPLOAD_KEY))],
        },
    ),
    # What a store does (the demo and tests play the store): not a stage.
    ("ingestion/csv_landing.py", "upload"): (None, {"put_object": []}),
    # Silver's listing of new bronze objects, and the schedule's look at bronze.
    ("spark_jobs/silver/bronze_log.py", "list_objects"): (
        "spark",
        {"list_objects_v2": [("s3:ListBucket", bucket(BRONZE))]},
    ),
    ("spark_jobs/schedule.py", "newest_bronze_write"): (
        "spark",
        {"list_objects_v2": [("s3:ListBucket", bucket(BRONZE))]},
    ),
    # Whether a stage that never ran has any input yet (bronze for silver, silver for gold).
    ("spark_jobs/schedule.py", "nothing_under"): (
        "spark",
        {"list_objects_v2": [("s3:ListBucket", bucket(BRONZE)), ("s3:ListBucket", bucket(SILVER))]},
    ),
    # The forecast files after each gold load; HeadBucket is authorized as ListBucket.
    ("spark_jobs/gold/exports.py", "export_forecasts"): (
        "spark",
        {"head_bucket": [("s3:ListBucket", bucket(EXPORTS))]},
    ),
    ("spark_jobs/gold/exports.py", "ForecastWriter.write"): (
        "spark",
        {
            "put_object": [
                ("s3:PutObject", obj(EXPORTS, EXPORT_LOAD_KEY)),
                ("s3:PutObject", obj(EXPORTS, f"{EXPORT_BASE}{MANIFEST}")),
            ],
            "copy_object": [
                ("s3:GetObject", obj(EXPORTS, EXPORT_LOAD_KEY)),
                ("s3:PutObject", obj(EXPORTS, f"{EXPORT_BASE}{FILES['csv']}")),
            ],
        },
    ),
    ("spark_jobs/gold/exports.py", "ForecastWriter.read_manifest"): (
        "spark",
        {"get_object": [("s3:GetObject", obj(EXPORTS, f"{EXPORT_BASE}{MANIFEST}"))]},
    ),
    ("spark_jobs/gold/exports.py", "ForecastWriter._drop_older_loads"): (
        "spark",
        {
            "list_objects_v2": [("s3:ListBucket", bucket(EXPORTS))],
            "delete_object": [("s3:DeleteObject", obj(EXPORTS, EXPORT_LOAD_KEY))],
        },
    ),
    # The alerts publisher.
    ("spark_jobs/gold/alerts.py", "topic_arn"): (
        "alerts",
        {"get_caller_identity": [("sts:GetCallerIdentity", "*")]},
    ),
    ("spark_jobs/gold/alerts.py", "_publish"): ("alerts", {"publish": [("sns:Publish", TOPIC)]}),
    # The alerts queue's reader (`make alerts`, the tests), a subscriber rather than a stage.
    ("spark_jobs/gold/alerts.py", "queued_messages"): (None, {"get_queue_url": [], "receive_message": []}),
}

# Where the stages' code builds clients: (file, function) -> the stage it passes (None: the
# static key). A client built in __init__ serves the class's methods in CALLS.
BUILDS: dict[tuple[str, str], str | None] = {
    ("producer/cli.py", "main"): "producer",
    ("producer/kinesis.py", "KinesisSink.__init__"): "producer",
    ("ingestion/drain.py", "drain"): "ingestion",  # passed to StreamIdentity.of, list_shards, ShardReader
    ("ingestion/drain.py", "BronzeWriter.__init__"): "ingestion",
    ("ingestion/drain.py", "bronze_lines"): None,
    ("ingestion/csv_landing.py", "landed_files"): "ingestion",
    ("ingestion/csv_landing.py", "notifications_supported"): "ingestion",
    ("ingestion/csv_landing.py", "take_notifications"): "ingestion",
    ("ingestion/csv_landing.py", "CsvLoader.__init__"): "ingestion",
    ("ingestion/csv_landing.py", "upload"): None,
    ("spark_jobs/silver/bronze_log.py", "list_objects"): "spark",
    ("spark_jobs/schedule.py", "newest_bronze_write"): "spark",
    ("spark_jobs/schedule.py", "nothing_under"): "spark",
    ("spark_jobs/gold/exports.py", "export_forecasts"): "spark",
    ("spark_jobs/gold/exports.py", "ForecastWriter.__init__"): "spark",
    ("spark_jobs/gold/alerts.py", "topic_arn"): "alerts",
    ("spark_jobs/gold/alerts.py", "publish_pending"): "alerts",  # the SNS client _publish uses
    ("spark_jobs/gold/alerts.py", "queued_messages"): None,
}

# What Spark's S3A connector and Delta Lake ask of S3 for silver (not boto3 calls, so not read
# from the code): list and read bronze; read, write, delete and upload in parts in silver.
S3A_CALLS = [
    ("s3:ListBucket", bucket(BRONZE)),
    ("s3:GetBucketLocation", bucket(BRONZE)),
    ("s3:GetObject", obj(BRONZE, BRONZE_KEY)),
    ("s3:ListBucket", bucket(SILVER)),
    ("s3:GetBucketLocation", bucket(SILVER)),
    ("s3:ListBucketMultipartUploads", bucket(SILVER)),
    ("s3:GetObject", obj(SILVER, "silver/sales/_delta_log/00000000000000000000.json")),
    ("s3:PutObject", obj(SILVER, "silver/sales/part-00000.snappy.parquet")),
    ("s3:DeleteObject", obj(SILVER, "silver/sales/part-00000.snappy.parquet")),
    ("s3:AbortMultipartUpload", obj(SILVER, "silver/sales/part-00001.snappy.parquet")),
]

SCANNED = ("producer", "ingestion", "spark_jobs", "mage_project")
SERVICES = ("s3", "kinesis", "sqs", "sns", "sts", "iam")


def _operations() -> set[str]:
    """Every boto3 method name of the services the project uses (read from botocore's models)."""
    session = boto3.session.Session()
    return {
        name
        for service in SERVICES
        for name in session.client(service, region_name=REGION).meta.method_to_api_mapping
    }


class _Scan(ast.NodeVisitor):
    """boto3 calls and client builds in a file, by enclosing function (Class.method)."""

    def __init__(self, path: str, operations: set[str]) -> None:
        self.path, self.operations, self.scope = path, operations, []
        self.calls: set[tuple[str, str, str]] = set()
        self.builds: dict[tuple[str, str], str | None] = {}

    def _enter(self, node: ast.AST) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _enter

    def visit_Call(self, node: ast.Call) -> None:
        where = ".".join(self.scope)
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
        if isinstance(function, ast.Attribute) and name in self.operations:
            self.calls.add((self.path, where, name))
        elif name == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
            self.calls.add((self.path, where, node.args[0].value))
        elif name == "client":
            stage = next((k.value for k in node.keywords if k.arg == "stage"), None)
            self.builds[(self.path, where)] = ast.literal_eval(stage) if stage is not None else None
        self.generic_visit(node)


@pytest.fixture(scope="module")
def scanned() -> _Scan:
    operations = _operations()
    total = _Scan("", operations)
    for package in SCANNED:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            scan = _Scan(str(path.relative_to(REPO_ROOT)), operations)
            scan.visit(ast.parse(path.read_text()))
            total.calls |= scan.calls
            total.builds |= scan.builds
    return total


def _stage_calls(stage: str) -> list[tuple[str, str, str]]:
    """(where, action, resource) of every call the stage makes, S3A's included for Spark."""
    found = [
        (f"{path}:{function}.{method}", action, resource)
        for (path, function), (owner, methods) in CALLS.items()
        if owner == stage
        for method, needs in methods.items()
        for action, resource in needs
    ]
    if stage == "spark":
        found += [("S3A", action, resource) for action, resource in S3A_CALLS]
    return found


def test_the_tables_are_the_codes_calls(scanned: _Scan):
    """A boto3 call or a client in the stages' code that the tables do not list fails here."""
    listed = {
        (path, function, method) for (path, function), (_, methods) in CALLS.items() for method in methods
    }
    assert scanned.calls - listed == set(), "calls in the code missing from CALLS (add them with their needs)"
    assert listed - scanned.calls == set(), "calls in CALLS the code no longer makes"
    assert scanned.builds == BUILDS


def test_each_call_runs_on_the_client_of_its_stage():
    for (path, function), stage in BUILDS.items():
        if function.endswith(".__init__"):
            owner = function.removesuffix("__init__")
            users = {f: s for (p, f), (s, _) in CALLS.items() if p == path and f.startswith(owner)}
        else:
            users = {f: s for (p, f), (s, _) in CALLS.items() if p == path and f == function}
        assert all(user_stage == stage for user_stage in users.values()), (path, function, users)


def test_every_stage_has_calls_and_only_stages_need_permissions():
    assert {owner for owner, _ in CALLS.values() if owner} == set(STAGES)
    for owner, methods in CALLS.values():
        assert all(needs for needs in methods.values()) == (owner is not None)


@pytest.mark.parametrize("stage", STAGES)
def test_every_call_a_stage_makes_is_allowed(stage: str):
    denied = [
        (where, action, resource, evaluate(POLICIES[stage], action, resource).reason)
        for where, action, resource in _stage_calls(stage)
        if not allows(POLICIES[stage], action, resource)
    ]
    assert denied == [], (
        f"{stage}'s policy denies calls its code makes: add them to stage_policies and iam.tf"
    )


@pytest.mark.parametrize("stage", STAGES)
def test_every_statement_is_needed(stage: str):
    """Policies name exactly what the code calls: each action of each statement serves a call."""
    calls = _stage_calls(stage)
    for statement in POLICIES[stage]["Statement"]:
        for action in statement["Action"]:
            alone = {"Statement": [{**statement, "Action": [action]}]}
            assert any(allows(alone, a, r) for _, a, r in calls), (
                f"{stage}: {statement['Sid']} {action} serves no call"
            )


@pytest.mark.parametrize(
    ("stage", "action", "resource"),
    [
        ("producer", "s3:PutObject", obj(BRONZE, BRONZE_KEY)),
        ("producer", "kinesis:GetRecords", STREAM),
        ("ingestion", "s3:GetObject", obj(SILVER, "silver/sales/_delta_log/00000000000000000000.json")),
        ("ingestion", "s3:ListBucket", bucket(SILVER)),
        ("ingestion", "s3:PutObject", obj(EXPORTS, EXPORT_LOAD_KEY)),
        ("ingestion", "s3:DeleteObject", obj(BRONZE, BRONZE_KEY)),
        ("ingestion", "kinesis:PutRecords", STREAM),
        ("spark", "sns:Publish", TOPIC),
        ("spark", "s3:PutObject", obj(BRONZE, BRONZE_KEY)),
        ("spark", "s3:DeleteObject", obj(BRONZE, UPLOAD_KEY)),
        ("spark", "sqs:ReceiveMessage", LANDING_QUEUE),
        ("alerts", "sqs:ReceiveMessage", LANDING_QUEUE),
        ("alerts", "sqs:ReceiveMessage", ALERTS_QUEUE),
        ("alerts", "sns:CreateTopic", TOPIC),
        ("alerts", "s3:GetObject", obj(SILVER, "gold/alerts.json")),
    ],
)
def test_a_stage_cannot_touch_another_stages_resources(stage: str, action: str, resource: str):
    assert not allows(POLICIES[stage], action, resource)


def _elsewhere(resource: str) -> list[str]:
    """The same resource in another account, and under a longer name (a wildcard too wide shows)."""
    if resource.startswith("arn:aws:s3:::"):
        name, _, key = resource.removeprefix("arn:aws:s3:::").partition("/")
        return [f"arn:aws:s3:::{name}-other" + (f"/{key}" if key else ""), f"arn:aws:s3:::other-{name}"]
    if resource == "*":
        return []
    return [resource.replace(ACCOUNT, OTHER_ACCOUNT), f"{resource}-other", f"{resource}/other"]


@pytest.mark.parametrize("stage", STAGES)
def test_no_stage_reaches_a_resource_of_another_name_or_account(stage: str):
    for where, action, resource in _stage_calls(stage):
        for other in _elsewhere(resource):
            assert not allows(POLICIES[stage], action, other), (where, action, other)


def test_the_evaluator_matches_wildcards_lets_deny_win_and_denies_by_default():
    policy = {
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "One", "Effect": "Allow", "Action": ["kinesis:PutRecord?"], "Resource": STREAM},
            {"Sid": "NoSecrets", "Effect": "Deny", "Action": "*", "Resource": "arn:aws:s3:::b/secret/*"},
            {"Sid": "NotPut", "Effect": "Allow", "NotAction": "sqs:Send*", "Resource": LANDING_QUEUE},
        ]
    }
    assert evaluate(policy, "s3:GetObject", "arn:aws:s3:::b/x/y").reason == "allowed by statement Read"
    assert allows(policy, "S3:getobject", "arn:aws:s3:::b/x"), "actions ignore case"
    assert not allows(policy, "s3:GetObject", "arn:aws:s3:::B/x"), "resources do not"
    assert not allows(policy, "s3:GetObject", "arn:aws:s3:::b"), "the bucket is not its objects"
    assert allows(policy, "kinesis:PutRecords", STREAM)
    assert not allows(policy, "kinesis:PutRecord", STREAM), "? is exactly one character"
    assert evaluate(policy, "s3:GetObject", "arn:aws:s3:::b/secret/k").reason == (
        "denied explicitly by statement NoSecrets"
    )
    assert allows(policy, "sqs:ReceiveMessage", LANDING_QUEUE)
    assert not allows(policy, "sqs:SendMessage", LANDING_QUEUE)
    assert evaluate(policy, "s3:PutObject", "arn:aws:s3:::b/x").reason.startswith("no statement allows it")
    assert allows({"Statement": []}, "sts:GetCallerIdentity", "*"), "needs no permission"


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        },
        {"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Put*", "Resource": "*"},
        {"Effect": "Maybe", "Action": "s3:*", "Resource": "*"},
    ],
)
def test_the_evaluator_refuses_what_it_cannot_judge(statement: dict):
    with pytest.raises(PolicyError):
        evaluate({"Statement": [statement]}, "s3:GetObject", "arn:aws:s3:::b/k")


def test_a_statement_that_is_a_single_object_is_read():
    policy = {"Statement": {"Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC}}
    assert allows(policy, "sns:Publish", TOPIC)
    assert not allows(policy, "sns:Publish", TOPIC.replace(ACCOUNT, OTHER_ACCOUNT))


def test_the_scan_finds_boto3_calls_and_clients_by_function():
    source = (
        "class Writer:\n"
        "    def __init__(self, settings):\n"
        "        self.s3 = aws.client('s3', settings, stage='spark')\n"
        "    def go(self):\n"
        "        self.s3.get_object_tagging(Bucket='b', Key='k')\n"
        "        list_objects(self)\n"
        "def admin(settings):\n"
        "    client('sqs', settings).get_paginator('list_queues')\n"
    )
    scan = _Scan("x.py", _operations())
    scan.visit(ast.parse(source))
    assert scan.calls == {("x.py", "Writer.go", "get_object_tagging"), ("x.py", "admin", "list_queues")}
    assert scan.builds == {("x.py", "Writer.__init__"): "spark", ("x.py", "admin"): None}
