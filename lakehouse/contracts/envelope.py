"""Several events in one Kinesis record, and back: the aggregation envelope, version 1.

LocalStack's Kinesis is slow per record and per byte (about 300 records/s, about 1.5 MB/s
on the reference machine), so the producer packs many events into one record, as the Kinesis
Producer Library does on AWS, and by default compresses the pack: JSON events shrink about
six-fold, and on AWS fewer bytes means fewer shard-throughput units too.

Format (bytes), version 1:

    POSAGG/1 <count> <codec>\\n<body>

- a header line: the ASCII text `POSAGG/1`, a space, the number of events in decimal, a
  space, the codec (`raw` or `zlib`), then one `\\n`;
- `raw` body: the event payloads joined by single `\\n` bytes, no trailing newline;
- `zlib` body: that same joined text compressed with zlib (RFC 1950, `zlib.decompress`);
- a payload is an event's bytes exactly as produced, malformed ones included, so it must not
  contain `\\n` (JSON text written by the producer never does: newlines in strings are escaped).

A record that does not start with `POSAGG/` is a single event, byte for byte. Event JSON
starts with `{`, so the two never collide; `pack_record` wraps the rare lone payload that
would be ambiguous.

The consumer calls `unpack(record_data)` (or `deaggregate`, its payloads only). It never
raises: every payload comes out as its own raw bytes, so one malformed event inside an aggregate
is quarantined alone while its neighbours go on; a damaged aggregate (unreadable header, unknown
version or codec, corrupt zlib body, count not matching) comes out whole as one payload, which
fails JSON parsing and is quarantined with its original bytes.

A body is at most `MAX_BODY_BYTES` (1 MiB, a Kinesis record's own limit) once decompressed: the
producer packs at most that much before compressing. A zlib body is inflated in one bounded step
that stops past the limit, so a record built to expand (a 204 KB record once expanded to 200 MB)
costs the consumer at most 1 MiB: it comes out whole, compressed as it came, with the problem
`oversize_record`, which bronze records beside it and silver gives as its quarantine reason.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

MAGIC = b"POSAGG/"
VERSION = 1
RAW = "raw"
ZLIB = "zlib"
CODECS = (RAW, ZLIB)
SEPARATOR = b"\n"
MAX_BODY_BYTES = 1024 * 1024
OVERSIZE_RECORD = "oversize_record"
ZLIB_LEVEL = 6  # ~55 MB/s on one core for ~7x on event JSON; level 1 is 3x faster but ~20 % larger

_PREFIX = MAGIC + str(VERSION).encode() + b" "
# Bytes of the longest header (up to 99,999,999 events); keeps records under a size limit.
HEADER_RESERVE = len(_PREFIX) + 8 + 1 + max(len(codec) for codec in CODECS) + 1


class AggregationError(ValueError):
    """Payloads that the envelope cannot carry (none, or one holding a newline)."""


def can_aggregate(payload: bytes) -> bool:
    """True when `payload` can sit inside an aggregate (it holds no newline)."""
    return SEPARATOR not in payload


def aggregate(payloads: Sequence[bytes], codec: str = RAW) -> bytes:
    """Pack raw event payloads into one version-1 aggregate record."""
    if codec not in CODECS:
        raise AggregationError(f"unknown codec {codec!r}; use one of {', '.join(CODECS)}")
    if not payloads:
        raise AggregationError("an aggregate needs at least one payload")
    for index, payload in enumerate(payloads):
        if SEPARATOR in payload:
            raise AggregationError(
                f"payload {index} contains a newline and cannot be aggregated; send it as its own record"
            )
    body = SEPARATOR.join(payloads)
    if codec == ZLIB:
        body = zlib.compress(body, ZLIB_LEVEL)
    return b"%s%d %s\n%s" % (_PREFIX, len(payloads), codec.encode(), body)


def pack_record(payloads: Sequence[bytes], codec: str = RAW) -> bytes:
    """The Kinesis record data for `payloads`: the bare payload when alone, else an aggregate.

    A lone payload that itself starts with the magic prefix is wrapped in a one-event
    aggregate, so the consumer cannot mistake it for an envelope.
    """
    if len(payloads) == 1 and not payloads[0].startswith(MAGIC):
        return payloads[0]
    return aggregate(payloads, codec)


def is_aggregate(data: bytes) -> bool:
    """True when a Kinesis record's data claims to be an aggregate envelope."""
    return data.startswith(MAGIC)


@dataclass(frozen=True)
class Unpacked:
    """A record's payloads; `problem` (a reason code) when the record came out whole for a reason
    that JSON parsing would not find by itself, and `detail` saying what was wrong."""

    payloads: list[bytes]
    problem: str | None = None
    detail: str | None = None


def unpack(data: bytes, max_body_bytes: int = MAX_BODY_BYTES) -> Unpacked:
    """The raw event payloads carried by one Kinesis record, in the order they were packed."""
    whole = Unpacked([data])
    if not data.startswith(MAGIC):
        return whole
    header, separator, body = data.partition(SEPARATOR)
    fields = header[len(_PREFIX) :].split(b" ")
    if not separator or not header.startswith(_PREFIX) or len(fields) != 2 or not fields[0].isdigit():
        return whole
    count, codec = int(fields[0]), fields[1]
    if codec == b"zlib":
        inflater = zlib.decompressobj()
        try:
            # At most one byte past the limit is ever produced, whatever the body claims.
            body = inflater.decompress(body, max_body_bytes + 1)
        except zlib.error:
            return whole
        if len(body) > max_body_bytes or inflater.unconsumed_tail:
            return Unpacked([data], OVERSIZE_RECORD, f"zlib body expands past {max_body_bytes} bytes")
        if not inflater.eof:
            return whole
    elif codec != b"raw":
        return whole
    if len(body) > max_body_bytes:
        return Unpacked([data], OVERSIZE_RECORD, f"body is {len(body)} bytes, past {max_body_bytes}")
    payloads = body.split(SEPARATOR)
    if count == 0 or len(payloads) != count:
        return whole
    return Unpacked(payloads)


def deaggregate(data: bytes, max_body_bytes: int = MAX_BODY_BYTES) -> list[bytes]:
    """`unpack(data).payloads`: for readers that only want the payloads."""
    return unpack(data, max_body_bytes).payloads
