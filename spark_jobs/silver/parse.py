"""Bronze text to typed, normalised events, each bronze line keeping its place and its raw payload.

Every function here is a pure DataFrame -> DataFrame transform. A line is never removed: a
line that cannot be read gets a `reason` (see reasons.py) and a `detail`, and goes on to the
quarantine with its payload as it came. Parsing happens in two steps:

1. the envelope probe reads the top-level fields as text, which cannot fail on a JSON object,
   so what it cannot read is malformed JSON; it also says which schema to use;
2. the event is read with the explicit schema of its (event_type, schema_version); Spark's JSON
   reader marks a record whose values do not fit the declared types (a corrupt record), and
   only for those rows a second, all-text read finds which field was at fault.

Normalisation: ids trimmed, UUIDs lower-cased, times to UTC timestamps, money to decimal(12,2),
dates to dates, string lists trimmed value by value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pyspark import SparkContext
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from spark_jobs.silver import reasons
from spark_jobs.silver.schemas import (
    BRONZE_LINE,
    CORRUPT_COLUMN,
    DATE,
    ENVELOPE_PROBE,
    EVENT_SCHEMAS,
    EVENT_TYPES,
    MONEY,
    MONEY_TYPE,
    STRING,
    STRING_LIST,
    TIMESTAMP,
    UUID,
    EventSchema,
)

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
MONEY_PATTERN = r"^-?\d{1,10}(\.\d{1,2})?$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
INGEST_DATE_PATTERN = r"ingest_date=(\d{4}-\d{2}-\d{2})/"

# Strict JSON: Spark's reader otherwise takes 'single quotes' and NaN, which JSON does not.
JSON_OPTIONS = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT_COLUMN,
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
}
T = TypeVar("T")
BRONZE_LINE_ENCODING = "bronze_line"  # payload_encoding of a quarantined line that is the whole bronze line

# Columns every parsed line carries, whatever happens to it.
LINEAGE_COLUMNS = (
    "bronze_key",
    "bronze_line",
    "ingest_date",
    "stream",
    "shard_id",
    "sequence_number",
    "subsequence",
    "arrived_at",
    "payload",
    "payload_encoding",
)


def split_lines(objects: DataFrame) -> DataFrame:
    """[bronze_key, text] -> one row per non-blank line: [bronze_key, bronze_line (1-based), line]."""
    exploded = objects.select("bronze_key", F.posexplode(F.split("text", "\n")).alias("position", "line"))
    return exploded.where(F.length("line") > 0).select(
        "bronze_key", (F.col("position") + 1).alias("bronze_line"), "line"
    )


def first_failure(checks: Sequence[tuple[Column, Column | str]]) -> Column:
    """The detail of the first check whose condition holds, or null; null conditions do not hold."""
    result = None
    for condition, detail in checks:
        value = detail if isinstance(detail, Column) else F.lit(detail)
        result = F.when(condition, value) if result is None else result.when(condition, value)
    return result.otherwise(F.lit(None).cast(StringType())) if result is not None else F.lit(None)


def built_once(build: Callable[..., T]) -> Callable[..., T]:
    """Build a function's Column expressions once per SparkContext and (hashable) arguments.

    The parse and rule expressions depend on nothing but the schemas and settings, yet building
    them takes thousands of Py4J calls: over a second on every run, most of a small run's
    parsing. A Column is an unresolved expression, which any number of plans can use.
    """
    built: dict[tuple, T] = {}

    @functools.wraps(build)
    def cached(*args):
        key = (SparkContext._active_spark_context, *args)
        if key not in built:
            built[key] = build(*args)
        return built[key]

    return cached


@dataclass(frozen=True)
class ReasonColumns:
    """What resolve_reasons adds: each check's detail as a column, then reason and detail from them."""

    checks: dict[str, Column]
    reason: Column
    detail: Column


def reason_columns(checks: Sequence[tuple[str, Column]]) -> ReasonColumns:
    """The columns that set `reason`/`detail` from the first check (in order) whose detail is not null.

    A reason already on the line wins. Checks are materialised as columns first and combined
    in one step: chaining `when(reason is null, ...)` check by check nests every earlier
    expression twice into the next, which grows the plan exponentially.
    """
    names = [f"_check_{index}" for index in range(len(checks))]
    reason = F.when(F.col("reason").isNotNull(), F.col("reason"))
    detail = F.when(F.col("reason").isNotNull(), F.col("detail"))
    for name, (code, _) in zip(names, checks, strict=True):
        reason = reason.when(F.col(name).isNotNull(), F.lit(code))
        detail = detail.when(F.col(name).isNotNull(), F.col(name))
    named = {name: detail for name, (_, detail) in zip(names, checks, strict=True)}
    return ReasonColumns(named, reason.alias("reason"), detail.alias("detail"))


def with_reasons(frame: DataFrame, columns: ReasonColumns) -> DataFrame:
    """Apply `reason_columns`: the frame with `reason`/`detail` resolved and no check columns left."""
    frame = frame.withColumns(columns.checks)
    others = [name for name in frame.columns if name not in ("reason", "detail", *columns.checks)]
    return frame.select(*others, columns.reason, columns.detail)


def resolve_reasons(frame: DataFrame, checks: Sequence[tuple[str, Column]]) -> DataFrame:
    """Set `reason`/`detail` from the first check (in order) whose detail is not null (see reason_columns)."""
    return with_reasons(frame, reason_columns(checks))


def parse_bronze_lines(lines: DataFrame) -> DataFrame:
    """Bronze lines -> lineage columns, the payload text, and `reason`/`detail` (null when fine)."""
    bronze = F.from_json("line", BRONZE_LINE, JSON_OPTIONS)
    frame = lines.withColumn("_bronze", bronze)
    unreadable = (
        F.col("_bronze").isNull()
        | F.col(f"_bronze.{CORRUPT_COLUMN}").isNotNull()
        | F.col("_bronze.payload").isNull()
        | ~F.coalesce(F.col("_bronze.payload_encoding").isin("utf-8", "base64"), F.lit(False))
        | ~F.coalesce(F.col("_bronze.ingest_reason") == reasons.OVERSIZE_RECORD, F.lit(True))
    )
    oversize = F.col("_bronze.ingest_reason") == reasons.OVERSIZE_RECORD
    ingested_at = F.to_timestamp("_bronze.ingested_at")
    key_date = F.regexp_extract("bronze_key", INGEST_DATE_PATTERN, 1)
    parsed = frame.select(
        "bronze_key",
        "bronze_line",
        F.coalesce(F.when(key_date != "", F.to_date(key_date)), F.to_date(ingested_at)).alias("ingest_date"),
        F.col("_bronze.stream").alias("stream"),
        F.col("_bronze.shard_id").alias("shard_id"),
        F.col("_bronze.sequence_number").alias("sequence_number"),
        F.col("_bronze.subsequence").alias("subsequence"),
        F.to_timestamp("_bronze.approximate_arrival").alias("arrived_at"),
        F.when(unreadable, F.col("line")).otherwise(F.col("_bronze.payload")).alias("payload"),
        F.when(unreadable, F.lit(BRONZE_LINE_ENCODING))
        .otherwise(F.col("_bronze.payload_encoding"))
        .alias("payload_encoding"),
        F.when(unreadable, F.lit(reasons.MALFORMED_BRONZE_LINE))
        .when(oversize, F.lit(reasons.OVERSIZE_RECORD))
        .when(F.col("_bronze.payload_encoding") == "base64", F.lit(reasons.MALFORMED_JSON))
        .alias("reason"),
        F.when(unreadable, F.lit("not a bronze line: see ingestion/bronze_format.py"))
        .when(oversize, F.coalesce(F.col("_bronze.ingest_detail"), F.lit("kept whole by ingestion")))
        .when(F.col("_bronze.payload_encoding") == "base64", F.lit("payload is not UTF-8 text"))
        .alias("detail"),
    )
    return parsed


def _trimmed(value: Column) -> Column:
    text = F.trim(value)
    return F.when(text != "", text)


def _normalise_value(value: Column, declared: StructField) -> Column:
    kind = declared.metadata.get("format")
    if kind is None:
        return value
    if kind == STRING_LIST:
        return F.transform(value, _trimmed)
    text = F.trim(value)
    if kind == UUID:
        lowered = F.lower(text)
        return F.when(lowered.rlike(UUID_PATTERN), lowered)
    if kind == STRING:
        return F.when(text != "", text)
    if kind == TIMESTAMP:
        return F.when(text.rlike(TIMESTAMP_PATTERN), F.to_timestamp(text))
    if kind == MONEY:
        return F.when(text.rlike(MONEY_PATTERN), text.cast(MONEY_TYPE))
    if kind == DATE:
        # A cast, not to_date: an impossible date (2024-02-30) is null, never a parser error.
        return F.when(text.rlike(DATE_PATTERN), text.cast("date"))
    raise ValueError(f"no normaliser for format {kind!r}")


def _line_struct(declared: StructField) -> StructType | None:
    kind = declared.dataType
    if isinstance(kind, ArrayType) and isinstance(kind.elementType, StructType):
        return kind.elementType
    return None


def _line_normaliser(element: StructType) -> Callable[[Column], Column]:
    # PySpark counts a lambda's parameters, so closures come from factories, not default arguments.
    def normalise_line(line: Column) -> Column:
        return F.struct(*[_normalise_value(line[f.name], f).alias(f.name) for f in element.fields])

    return normalise_line


def _any_line(lines: Column, test: Callable[[Column, Column], Column]) -> Column:
    """True when `test(line, index)` holds for some line."""
    return F.exists(F.transform(lines, test), lambda flag: flag)


def normalise(typed: Column, schema: EventSchema) -> Column:
    """The typed struct with every value in its silver form (formats applied, blanks as null)."""
    fields = []
    for declared in schema.struct.fields:
        element = _line_struct(declared)
        if element is None:
            fields.append(_normalise_value(typed[declared.name], declared).alias(declared.name))
        else:
            fields.append(F.transform(typed[declared.name], _line_normaliser(element)).alias(declared.name))
    return F.struct(*fields)


def _absent_but_written(name: str, text_lines: Column) -> Callable[[Column, Column], Column]:
    def test(line: Column, index: Column) -> Column:
        return line[name].isNull() & text_lines[index][name].isNotNull()

    return test


def _present_but_unreadable(name: str, normalised_lines: Column) -> Callable[[Column, Column], Column]:
    def test(line: Column, index: Column) -> Column:
        return (F.trim(line[name]) != "") & normalised_lines[index][name].isNull()

    return test


def _absent(name: str) -> Callable[[Column, Column], Column]:
    def test(line: Column, index: Column) -> Column:
        return line[name].isNull()

    return test


def _is_null(value: Column) -> Column:
    return value.isNull()


def _stringly(struct: StructType) -> StructType:
    return StructType([StructField(f.name, StringType()) for f in struct.fields])


def json_type_mismatch(payload: Column, typed: Column, schema: EventSchema) -> Column:
    """Which field made Spark's reader reject the record: present as text, absent as its type."""
    text = F.from_json(payload, _stringly(schema.struct), JSON_OPTIONS)
    checks: list[tuple[Column, Column | str]] = []
    for declared in schema.struct.fields:
        name = declared.name
        checks.append((typed[name].isNull() & text[name].isNotNull(), name))
        element = _line_struct(declared)
        if element is None:
            continue
        text_lines = F.from_json(text[name], ArrayType(_stringly(element)), JSON_OPTIONS)
        for line_field in element.fields:
            checks.append(
                (
                    _any_line(typed[name], _absent_but_written(line_field.name, text_lines)),
                    f"{name}[].{line_field.name}",
                )
            )
    return F.coalesce(first_failure(checks), F.lit("a value does not have its declared JSON type"))


def _text_field_names(schema: EventSchema) -> list[str]:
    names = []
    for declared in schema.struct.fields:
        element = _line_struct(declared)
        for candidate in element.fields if element is not None else [declared]:
            if candidate.metadata.get("format") not in (None, STRING_LIST):
                names.append(candidate.name)
    return sorted(set(names))


def json_value_not_text(payload: Column, schema: EventSchema) -> Column:
    """Which text field holds a JSON number, boolean, object or list rather than a string.

    Spark's reader turns any JSON value into text for a string column (5 becomes "5"), so this
    looks at the payload itself: a text field's key followed by anything but a string or null.
    A key inside a string is escaped (\\") and does not match; one inside an unknown nested
    object would, which no producer does.
    """
    names = "|".join(re.escape(name) for name in _text_field_names(schema))
    # The quote comes first and the escape test after it: Java's matcher then skips every
    # position that is not a quote at once (a quarter of the time of testing the escape first).
    found = F.regexp_extract(payload, rf'"(?<!\\")({names})"\s*:\s*[-0-9tf\[{{]', 1)
    return F.when(found != "", F.concat(found, F.lit(" is not a JSON string")))


def _format_checks(typed: Column, normalised: Column, schema: EventSchema) -> list[tuple[Column, str]]:
    """Values present as text but not in their format (a UUID, an ISO-8601 time with zone, money)."""
    checks: list[tuple[Column, str]] = []
    for declared in schema.struct.fields:
        element = _line_struct(declared)
        if element is None:
            if declared.metadata.get("format") in (UUID, TIMESTAMP, MONEY, DATE):
                present = F.trim(typed[declared.name]) != ""
                checks.append((present & normalised[declared.name].isNull(), declared.name))
            continue
        for line_field in element.fields:
            if line_field.metadata.get("format") not in (UUID, TIMESTAMP, MONEY):
                continue
            wrong = _any_line(
                typed[declared.name], _present_but_unreadable(line_field.name, normalised[declared.name])
            )
            checks.append((wrong, f"{declared.name}[].{line_field.name}"))
    return checks


def _missing_checks(normalised: Column, schema: EventSchema) -> list[tuple[Column, str]]:
    checks: list[tuple[Column, str]] = []
    for declared in schema.struct.fields:
        value = normalised[declared.name]
        if declared.metadata.get("format") == STRING_LIST:
            # Optional lists may be null, but a list given must name at least one value, none blank.
            absent = value.isNull() if declared.metadata.get("required") else F.lit(False)
            empty = value.isNotNull() & ((F.size(value) <= 0) | F.exists(value, _is_null))
            checks.append((absent | empty, f"{declared.name} (absent, empty or with a blank value)"))
            continue
        if not declared.metadata.get("required"):
            continue
        element = _line_struct(declared)
        if element is None:
            checks.append((value.isNull(), declared.name))
            continue
        checks.append((F.coalesce(F.size(value), F.lit(0)) <= 0, f"{declared.name} (absent or empty)"))
        for line_field in element.fields:
            if line_field.metadata.get("required"):
                checks.append(
                    (_any_line(value, _absent(line_field.name)), f"{declared.name}[].{line_field.name}")
                )
    return checks


def schema_key_column(event_type: Column, version: Column) -> Column:
    """The EventSchema.key of a line's (event_type, schema_version text), or null if unknown."""
    return first_failure(
        [((event_type == s.event_type) & (version == str(s.version)), s.key) for s in EVENT_SCHEMAS]
    )


@dataclass(frozen=True)
class _EventColumns:
    """The expressions of parse_events, step by step (see there)."""

    probe: Column
    envelope: dict[str, Column]
    schema_key: Column
    typed: dict[str, Column]
    normalised: dict[str, Column]
    reasons: ReasonColumns
    output: list[Column]


@built_once
def _event_columns(schemas: tuple[EventSchema, ...]) -> _EventColumns:
    probe = F.when(F.col("reason").isNull(), F.from_json("payload", ENVELOPE_PROBE, JSON_OPTIONS))
    readable = F.coalesce(
        F.col("_probe").isNotNull() & F.col(f"_probe.{CORRUPT_COLUMN}").isNull(), F.lit(False)
    )
    event_type = F.when(readable & (F.trim("_probe.event_type") != ""), F.trim("_probe.event_type"))
    envelope = {
        "_readable": readable,
        "event_type": event_type,
        "_version": F.when(readable, F.trim("_probe.schema_version")),
    }
    readable = F.col("_readable")
    schema_key = F.when(readable, schema_key_column(F.col("event_type"), F.col("_version")))
    typed_columns = {
        f"_typed_{schema.key}": F.when(
            F.col("schema_key") == schema.key, F.from_json("payload", schema.parse_struct, JSON_OPTIONS)
        )
        for schema in schemas
    }
    normalised_columns = {
        schema.key: F.when(
            F.col("schema_key") == schema.key, normalise(F.col(f"_typed_{schema.key}"), schema)
        )
        for schema in schemas
    }

    event_type, version = F.col("event_type"), F.col("_version")
    known_type = event_type.isin(*EVENT_TYPES)
    checks: list[tuple[str, Column]] = [
        (reasons.MALFORMED_JSON, F.when(F.col("reason").isNull() & ~readable, F.lit("not a JSON object"))),
        (
            reasons.MISSING_FIELD,
            F.when(
                readable,
                first_failure(
                    [
                        (event_type.isNull(), "event_type"),
                        (F.coalesce(version, F.lit("")) == "", "schema_version"),
                    ]
                ),
            ),
        ),
        (
            reasons.UNSUPPORTED_EVENT_TYPE,
            F.when(readable & ~known_type, F.concat(F.lit("event_type "), event_type)),
        ),
        (
            reasons.UNSUPPORTED_SCHEMA_VERSION,
            F.when(
                readable & known_type & F.col("schema_key").isNull(),
                F.concat(event_type, F.lit(" schema_version "), version),
            ),
        ),
    ]
    for schema in schemas:
        mine = F.coalesce(F.col("schema_key") == schema.key, F.lit(False))
        typed = F.col(f"_typed_{schema.key}")
        normalised = F.col(schema.key)
        corrupt = mine & typed[CORRUPT_COLUMN].isNotNull()
        checks += [
            (reasons.WRONG_TYPE, F.when(corrupt, json_type_mismatch(F.col("payload"), typed, schema))),
            (reasons.WRONG_TYPE, F.when(mine, json_value_not_text(F.col("payload"), schema))),
            (reasons.WRONG_TYPE, F.when(mine, first_failure(_format_checks(typed, normalised, schema)))),
            (reasons.MISSING_FIELD, F.when(mine, first_failure(_missing_checks(normalised, schema)))),
        ]

    keys = [schema.key for schema in schemas]
    envelope_out = [
        F.coalesce(*[F.col(key)[name] for key in keys]).alias(name)
        for name in ("event_id", "event_time", "store_id", "schema_version")
    ]
    output = [
        *map(F.col, (*LINEAGE_COLUMNS, "reason", "detail", "event_type", "schema_key")),
        *envelope_out,
        *map(F.col, keys),
    ]
    return _EventColumns(
        probe, envelope, schema_key, typed_columns, normalised_columns, reason_columns(checks), output
    )


def parse_events(bronze: DataFrame, schemas: Sequence[EventSchema] = EVENT_SCHEMAS) -> DataFrame:
    """Parsed bronze lines -> envelope columns, one normalised struct per schema, reasons.

    Adds `event_type`, `schema_key` (which struct column holds the event), `event_id`,
    `event_time`, `store_id`, `schema_version`, and a column named by each schema's key, null
    unless the line is that kind of event and could be read.
    """
    columns = _event_columns(tuple(schemas))
    # Few, wide projections: each DataFrame step is analysed again, which costs more than the rows.
    frame = bronze.withColumn("_probe", columns.probe).withColumns(columns.envelope)
    frame = frame.withColumn("schema_key", columns.schema_key).withColumns(columns.typed)
    frame = with_reasons(frame.withColumns(columns.normalised), columns.reasons)
    return frame.select(*columns.output)
