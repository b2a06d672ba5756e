"""Bronze objects are written once and never replaced.

Every PUT to bronze is conditional (`If-None-Match: *`, S3's conditional write, honoured by AWS,
LocalStack and the stack's S3Proxy): S3 refuses it with 412 when the key already holds an
object. Keys are derived from what they hold (a shard's sequence range, a journal's digest), so
a refused PUT is the same write made before: a botocore retry whose first attempt was stored
although its answer was lost, or a rerun after a crash between the PUT and its checkpoint. The
object already there is kept; what was read into it is never rewritten.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

NDJSON = "application/x-ndjson"


def put_once(s3: Any, bucket: str, key: str, body: bytes) -> bool:
    """PUT `body` at `key` unless an object is there; True when this call stored it."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=NDJSON, IfNoneMatch="*")
    except ClientError as error:
        if error.response["Error"]["Code"] in {"PreconditionFailed", "412"}:
            return False
        raise
    return True
