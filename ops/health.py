"""Reachability of the services the pipelines use, as seen from the calling process."""

from __future__ import annotations

from lakehouse.config import Settings, load_settings
from ops.stack.components import LocalStack, Postgres


def service_health(settings: Settings | None = None) -> dict[str, dict[str, object]]:
    """{'localstack': {'ok': bool, 'detail': str}, 'postgres': {...}} for a Mage block or a CLI."""
    settings = settings or load_settings()
    report = {}
    for component in (LocalStack(settings), Postgres(settings)):
        health = component.health()
        report[component.name] = {"ok": health.ok, "detail": health.detail}
    return report
