"""A small IAM policy evaluator: would this identity policy let a call do this action on this resource?

LocalStack's free edition accepts every call whatever the policies say, so nothing at run time
would notice a stage calling what its role does not allow, or a policy granting more than its
stage calls. tests/unit/test_stage_policies.py stands in for enforcement: it evaluates every call
each stage's code makes against the stage's policy (lakehouse/resources.stage_policies, statement
for statement terraform/iam.tf) through this module.

It implements the part of AWS's evaluation logic the project's policies use, for one identity
policy: statements with Effect Allow or Deny; Action or NotAction, Resource or NotResource, each a
string or a list, with `*` (any run of characters) and `?` (one character) wildcards; actions
compare without regard to case, resources with it; an explicit Deny wins over any Allow, and what
no statement allows is denied. A statement with a Condition or a Principal is refused
(PolicyError): this evaluator cannot judge it, and must not pass it unexamined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Calls AWS authorizes without any policy: GetCallerIdentity works even under an explicit Deny.
NEEDS_NO_PERMISSION = frozenset({"sts:getcalleridentity"})
_KNOWN_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource"}


class PolicyError(ValueError):
    """The policy holds something this evaluator does not judge; the message names the statement."""


@dataclass(frozen=True)
class Decision:
    """The verdict on one call, and the statement (by Sid or position) that decided it."""

    allowed: bool
    reason: str


def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches(statement: dict, key: str, value: str, ignore_case: bool) -> bool:
    """Whether `value` is within the statement's Action/Resource (or outside its NotAction/...)."""
    negated = f"Not{key}"
    if (key in statement) == (negated in statement):
        raise PolicyError(f"statement {_name(statement)}: give exactly one of {key} and {negated}")
    globs = _listed(statement[key] if key in statement else statement[negated])
    hit = any(_pattern(glob, ignore_case).match(value) for glob in globs)
    return hit if key in statement else not hit


def _name(statement: dict, index: int | None = None) -> str:
    return statement.get("Sid") or (f"#{index}" if index is not None else "without Sid")


def _check(statement: dict, index: int) -> None:
    unknown = set(statement) - _KNOWN_KEYS
    if unknown:
        raise PolicyError(
            f"statement {_name(statement, index)} has {', '.join(sorted(unknown))}, which this evaluator "
            "does not judge (lakehouse/policy_check.py): extend it before relying on such a policy"
        )
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f"statement {_name(statement, index)}: Effect must be Allow or Deny")


def evaluate(policy: dict, action: str, resource: str) -> Decision:
    """The decision of `policy` on `action` (e.g. "s3:GetObject") on `resource` (an ARN)."""
    if action.lower() in NEEDS_NO_PERMISSION:
        return Decision(True, f"{action} needs no permission")
    statements = policy["Statement"]
    statements = [statements] if isinstance(statements, dict) else statements
    allowed_by = None
    for index, statement in enumerate(statements):
        _check(statement, index)
        if not (
            _matches(statement, "Action", action, ignore_case=True)
            and _matches(statement, "Resource", resource, ignore_case=False)
        ):
            continue
        if statement["Effect"] == "Deny":
            return Decision(False, f"denied explicitly by statement {_name(statement, index)}")
        allowed_by = allowed_by or _name(statement, index)
    if allowed_by is None:
        return Decision(False, "no statement allows it (denied by default)")
    return Decision(True, f"allowed by statement {allowed_by}")


def allows(policy: dict, action: str, resource: str) -> bool:
    return evaluate(policy, action, resource).allowed
