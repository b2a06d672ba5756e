"""What pipeline health reads outside gold: bronze objects and silver's Delta tables on S3
(delta-rs and pyarrow, no Spark), and Mage's pipeline runs (its HTTP API).

These sources know no PostgreSQL login, and quarantined payloads hold every store's raw events,
so the pipeline health page shows them to analysts only. Each probe that cannot answer raises
`LakeError` with what to do, and the page shows the others.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlparse

import pandas as pd

from lakehouse.config import Settings
from lakehouse.mage_api import MageApi, MageApiError

PIPELINES = ("kinesis_to_bronze", "bronze_to_silver", "silver_to_gold", "pos_live")
QUARANTINE = "quarantine"
QUALITY_RESULTS = "_meta/quality_results"
SALES_LINES = "sales_lines"


class LakeError(RuntimeError):
    """A lake or Mage probe could not answer; the message says which and why."""


def _endpoint(settings: Settings) -> str | None:
    return settings.aws_endpoint_url_s3 or settings.aws_endpoint_url


def storage_options(settings: Settings) -> dict[str, str]:
    """delta-rs (object_store) options for the project's S3: the local server, or AWS."""
    options = {"AWS_REGION": settings.aws_region}
    if settings.aws_access_key_id:
        options |= {
            "AWS_ACCESS_KEY_ID": settings.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": settings.aws_secret_access_key,
        }
    endpoint = _endpoint(settings)
    if endpoint:
        options |= {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
        }
    return options


def _table(settings: Settings, name: str):
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    uri = f"s3://{settings.silver_bucket}/{name}"
    try:
        return DeltaTable(uri, storage_options=storage_options(settings))
    except TableNotFoundError:
        raise LakeError(f"no Delta table at {uri} yet: silver has not written it") from None
    except OSError as error:
        raise LakeError(f"cannot read {uri}: {str(error).splitlines()[0]}") from None


def _frame(table, columns: list[str], filters=None) -> pd.DataFrame:
    dataset = table.to_pyarrow_dataset()
    import pyarrow.dataset as ds

    expression = None
    for column, low in filters or []:
        condition = ds.field(column) >= low
        expression = condition if expression is None else expression & condition
    return dataset.to_table(columns=columns, filter=expression).to_pandas()


def silver_newest(settings: Settings) -> tuple[datetime | None, datetime | None]:
    """(newest sale event, newest load) in silver's sales_lines, from the Delta log's file statistics."""
    table = _table(settings, SALES_LINES)
    actions = table.get_add_actions(flatten=True).to_pydict()
    newest_event = max((value for value in actions.get("max.event_time", []) if value), default=None)
    newest_load = max((value for value in actions.get("max.loaded_at", []) if value), default=None)
    return _utc(newest_event), _utc(newest_load)


def _utc(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def bronze_newest_object(settings: Settings) -> datetime | None:
    """When the newest bronze object of the stream was written (None when there is none)."""
    from pyarrow import fs

    endpoint = _endpoint(settings)
    parsed = urlparse(endpoint) if endpoint else None
    s3 = fs.S3FileSystem(
        access_key=settings.aws_access_key_id or None,
        secret_key=settings.aws_secret_access_key or None,
        region=settings.aws_region,
        endpoint_override=parsed.netloc if parsed else None,
        scheme=parsed.scheme if parsed else "https",
        connect_timeout=3,
        request_timeout=10,
    )
    selector = fs.FileSelector(
        f"{settings.bronze_bucket}/raw/{settings.kinesis_stream}", recursive=True, allow_not_found=True
    )
    try:
        infos = s3.get_file_info(selector)
    except OSError as error:
        raise LakeError(
            f"cannot list bronze bucket {settings.bronze_bucket}: {str(error).splitlines()[0]}"
        ) from None
    times = [info.mtime for info in infos if info.type == fs.FileType.File and info.mtime]
    return _utc(max(times)) if times else None


def quarantine(settings: Settings, days: int = 30) -> pd.DataFrame:
    """Quarantined lines of the last `days` ingest days: reason, when, and the raw payload."""
    table = _table(settings, QUARANTINE)
    since = date.today() - timedelta(days=days)
    columns = [
        "ingest_date",
        "reason",
        "detail",
        "event_type",
        "store_id",
        "payload",
        "bronze_key",
        "bronze_line",
        "quarantined_at",
    ]
    return _frame(table, columns, [("ingest_date", since)])


def quality_results(settings: Settings, days: int = 30) -> pd.DataFrame:
    """Great Expectations results of silver's quality gate over the last `days` days."""
    table = _table(settings, QUALITY_RESULTS)
    since = datetime.now(UTC) - timedelta(days=days)
    columns = [
        "run_id",
        "checked_at",
        "table_name",
        "expectation",
        "severity",
        "success",
        "element_count",
        "unexpected_count",
        "sample",
        "error",
    ]
    return _frame(table, columns, [("checked_at", since)])


def mage_runs(settings: Settings, per_pipeline: int = 5) -> pd.DataFrame:
    """The last runs of each pipeline from Mage's API, newest first."""
    rows = []
    api = MageApi(settings, timeout=5)
    for pipeline in PIPELINES:
        try:
            runs = api.pipeline_runs(pipeline, limit=per_pipeline)
        except MageApiError as error:
            raise LakeError(
                f"Mage refused the call at {settings.mage_url} ({error}): check MAGE_OWNER_* in .env"
            ) from None
        except (OSError, ValueError) as error:
            raise LakeError(
                f"Mage does not answer at {settings.mage_url} ({error}): start it with `make up`"
            ) from None
        for run in runs[:per_pipeline]:
            rows.append(
                {
                    "pipeline": pipeline,
                    "run_id": run.get("id"),
                    "status": run.get("status"),
                    "started_at": run.get("started_at") or run.get("created_at"),
                    "completed_at": run.get("completed_at"),
                }
            )
    return pd.DataFrame(rows, columns=["pipeline", "run_id", "status", "started_at", "completed_at"])
