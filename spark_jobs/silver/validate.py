"""Validation of parsed events: value rules, known stores and SKUs, duplicate event and promotion ids.

Each function takes the frame parse.py makes (one row per bronze line, `reason` null while the
line is fine) and returns it with more reasons set; nothing is ever filtered out, so the
quarantine gets every line that fails. Rules read what they check from the schema metadata
(schemas.py), so a renamed field needs no change here.

The cross-line checks (references, duplicates, settled lines) need joins and a window, which
shuffle their input. They run on `check_columns`, a narrow projection of about a hundred bytes a
line, not on the parsed lines with their payloads and structs (ten times wider); `changed_lines`
keeps the few lines whose verdict they changed, and `apply_verdicts` puts those back on the
wide frame with one join.

Duplicates are decided per event_id with one winner: the line already in silver if it is in
this batch (a rerun of the same bronze object), else the earliest arrival, then the bronze key
and line. Every other line with that event_id is quarantined as `duplicate_event_id`, so a
replay of bronze never adds a row to silver. A promotion is announced once: an accepted
promotion whose promotion_id another event already announced (in silver, or earlier in the
batch by the same order) is `duplicate_promotion_id`, whatever its content, so silver holds
one event per promotion_id and gold never has to choose between two calendars.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructField, StructType

from spark_jobs.silver import reasons
from spark_jobs.silver.parse import (
    ReasonColumns,
    built_once,
    first_failure,
    reason_columns,
    resolve_reasons,
    with_reasons,
)
from spark_jobs.silver.schemas import (
    EARLIEST_EVENT_TIME,
    EVENT_SCHEMAS,
    PRODUCT,
    PRODUCT_V1,
    PROMOTION_V1,
    STORE,
    STORE_V1,
    STRING_LIST,
    EventSchema,
)

LINE_KEY = ("bronze_key", "bronze_line")


def _range_checks(event: Column, schema: EventSchema) -> list[tuple[str, Column]]:
    """Declared minimums and maximums, of event fields and of every line's fields."""
    checks: list[tuple[str, Column]] = []
    for declared in schema.struct.fields:
        kind = declared.dataType
        if isinstance(kind, ArrayType) and isinstance(kind.elementType, StructType):
            for line_field in kind.elementType.fields:
                for bound, code, outside in _bounds(line_field):
                    failing = F.exists(event[declared.name], _outside(line_field.name, bound, outside))
                    detail = f"{declared.name}[].{line_field.name} {outside} {bound}"
                    checks.append((code, F.when(failing, F.lit(detail))))
            continue
        for bound, code, outside in _bounds(declared):
            failing = _compare(event[declared.name], bound, outside)
            checks.append((code, F.when(failing, F.lit(f"{declared.name} {outside} {bound}"))))
    return checks


def _bounds(declared: StructField) -> list[tuple[object, str, str]]:
    """(limit, reason, the comparison that fails) for a field's declared minimum and maximum."""
    found = []
    if "minimum" in declared.metadata:
        found.append((declared.metadata["minimum"], declared.metadata["minimum_reason"], "<"))
    if "maximum" in declared.metadata:
        found.append((declared.metadata["maximum"], declared.metadata["maximum_reason"], ">"))
    return found


def _compare(value: Column, bound: object, outside: str) -> Column:
    # A decimal limit is declared as text (metadata is JSON) and compared as an exact decimal.
    limit = F.lit(Decimal(bound)) if isinstance(bound, str) else F.lit(bound)
    return value < limit if outside == "<" else value > limit


def _outside(name: str, bound: object, outside: str):
    def test(line: Column) -> Column:
        return _compare(line[name], bound, outside)

    return test


def _line_number_check(event: Column, schema: EventSchema) -> Column | None:
    line_field = schema.line_field
    if line_field is None or "line_number" not in line_field.dataType.elementType.fieldNames():
        return None
    numbers = F.transform(event[line_field.name], lambda line: line["line_number"])
    return F.when(F.size(F.array_distinct(numbers)) < F.size(numbers), F.lit("line_number repeats"))


def apply_value_rules(
    events: DataFrame, future_tolerance_seconds: int, schemas: Sequence[EventSchema] = EVENT_SCHEMAS
) -> DataFrame:
    """Quantities, prices, line numbers, the schemas' rules and event times, for lines parsing accepted.

    The limits are at least as strict as gold's constraints (schemas.py), so every accepted line
    loads into gold.
    The future check compares event_time with the Kinesis arrival time, not with the clock of
    the job, so a rerun next week classifies every line exactly as the first run did.
    """
    return with_reasons(events, _value_rule_columns(int(future_tolerance_seconds), tuple(schemas)))


@built_once
def _value_rule_columns(future_tolerance_seconds: int, schemas: tuple[EventSchema, ...]) -> ReasonColumns:
    fine = F.col("reason").isNull()
    by_reason: dict[str, list[Column]] = {}
    for schema in schemas:
        mine = fine & (F.col("schema_key") == schema.key)
        event = F.col(schema.key)
        for code, detail in _range_checks(event, schema):
            by_reason.setdefault(code, []).append(F.when(mine, detail))
        for rule in schema.rules:
            by_reason.setdefault(rule.reason, []).append(F.when(mine & rule.fails(event), F.lit(rule.detail)))
        line_numbers = _line_number_check(event, schema)
        if line_numbers is not None:
            by_reason.setdefault(reasons.DUPLICATE_LINE_NUMBER, []).append(F.when(mine, line_numbers))
    latest = F.col("arrived_at") + F.expr(f"INTERVAL {future_tolerance_seconds} SECONDS")
    future = fine & (F.col("event_time") > latest)
    too_early = fine & (F.col("event_time") < F.lit(EARLIEST_EVENT_TIME))
    by_reason[reasons.EVENT_TIME_TOO_EARLY] = [
        F.when(too_early, F.lit(f"event_time is before {EARLIEST_EVENT_TIME:%Y-%m-%dT%H:%M:%SZ}"))
    ]
    by_reason[reasons.EVENT_TIME_IN_FUTURE] = [
        F.when(future, F.concat(F.lit("event_time is after arrival "), F.col("arrived_at").cast("string")))
    ]
    order = list(reasons.REASONS)
    return reason_columns(
        [(code, F.coalesce(*by_reason[code])) for code in sorted(by_reason, key=order.index)]
    )


def batch_references(events: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Store ids and SKUs that store and product events of this batch make known."""
    fine = F.col("reason").isNull()
    stores = events.where(fine & (F.col("schema_key") == STORE_V1.key)).select(F.col("store_id"))
    skus = events.where(fine & (F.col("schema_key") == PRODUCT_V1.key)).select(
        F.col(f"{PRODUCT_V1.key}.sku").alias("sku")
    )
    return stores, skus


# Carried from the parsed lines into check_columns as they are.
_CHECKED_AS_IS = (*LINE_KEY, "reason", "detail", "schema_key", "event_id", "arrived_at")


def check_columns(events: DataFrame, schemas: Sequence[EventSchema] = EVENT_SCHEMAS) -> DataFrame:
    """What check_references, the duplicate checks and keep_settled read, and the verdict so far.

    `stores` and `skus` are every store and SKU the line's event names (null when it names
    none); `promotion_id` is set on promotions; `_parsed_reason` and `_parsed_detail` keep the
    verdict before the checks, for `changed_lines`.
    """
    is_promotion = F.col("schema_key") == PROMOTION_V1.key
    return events.select(
        *_CHECKED_AS_IS,
        _referenced(schemas, STORE).alias("stores"),
        _referenced(schemas, PRODUCT).alias("skus"),
        F.when(is_promotion, F.col(PROMOTION_V1.key)["promotion_id"]).alias("promotion_id"),
        F.col("reason").alias("_parsed_reason"),
        F.col("detail").alias("_parsed_detail"),
    )


def changed_lines(checked: DataFrame) -> DataFrame:
    """[bronze_key, bronze_line, reason, detail] of the lines whose verdict the checks changed."""
    same = F.col("reason").eqNullSafe(F.col("_parsed_reason")) & F.col("detail").eqNullSafe(
        F.col("_parsed_detail")
    )
    return checked.where(~same).select(*LINE_KEY, "reason", "detail")


def apply_verdicts(events: DataFrame, changes: DataFrame) -> DataFrame:
    """`events` with reason and detail replaced where `changes` (from changed_lines) has the line.

    Every change sets a reason (the checks only ever reject), so a line without one keeps its own.
    """
    verdicts = changes.select(
        *LINE_KEY, F.col("reason").alias("_new_reason"), F.col("detail").alias("_new_detail")
    )
    changed = F.col("_new_reason").isNotNull()
    return (
        events.join(verdicts, list(LINE_KEY), "left")
        .withColumn("reason", F.when(changed, F.col("_new_reason")).otherwise(F.col("reason")))
        .withColumn("detail", F.when(changed, F.col("_new_detail")).otherwise(F.col("detail")))
        .drop("_new_reason", "_new_detail")
    )


def _referenced(schemas: Sequence[EventSchema], reference: str) -> Column:
    """All stores or SKUs (`reference`) a line's event names, as one array (null if it names none).

    A field naming one (store_id), a list of them (a promotion's skus, store_ids) and a field of
    every line (a sale line's sku) all count.
    """
    arrays = []
    for schema in schemas:
        event = F.col(schema.key)
        named = []
        for declared in schema.struct.fields:
            element = declared.dataType
            if isinstance(element, ArrayType) and isinstance(element.elementType, StructType):
                for line_field in element.elementType.fields:
                    if line_field.metadata.get("references") == reference:
                        named.append(F.transform(event[declared.name], _pick(line_field.name)))
            elif declared.metadata.get("references") == reference:
                value = event[declared.name]
                named.append(value if declared.metadata.get("format") == STRING_LIST else F.array(value))
        if named:
            combined = named[0] if len(named) == 1 else F.concat(*[F.coalesce(a, F.array()) for a in named])
            arrays.append(F.when(F.col("schema_key") == schema.key, combined))
    return F.coalesce(*arrays)


def _pick(name: str):
    def pick(line: Column) -> Column:
        return line[name]

    return pick


def check_references(events: DataFrame, known_stores: DataFrame, known_skus: DataFrame) -> DataFrame:
    """`unknown_store` and `unknown_sku` for lines that name a store or SKU no reference has.

    `events` is `check_columns` of the parsed lines. `known_stores` has a `store_id` column and
    `known_skus` a `sku` column: silver's reference tables and this batch's store and product
    events together (see batch_references). Unknown stores and SKUs are gathered per line in
    one aggregation, and joined back once.
    """
    fine = F.col("reason").isNull()
    stores = known_stores.select("store_id").where(F.col("store_id").isNotNull()).distinct()
    skus = known_skus.select("sku").where(F.col("sku").isNotNull()).distinct()
    checked = events.where(fine)
    unknown_stores = (
        checked.select(*LINE_KEY, F.explode("stores").alias("store_id"))
        .where(F.col("store_id").isNotNull())
        .join(F.broadcast(stores), "store_id", "left_anti")
        .select(
            *LINE_KEY,
            F.col("store_id").alias("_unknown_store"),
            F.lit(None).cast("string").alias("_unknown_sku"),
        )
    )
    unknown_skus = (
        checked.select(*LINE_KEY, F.explode("skus").alias("sku"))
        .join(F.broadcast(skus), "sku", "left_anti")
        .select(
            *LINE_KEY, F.lit(None).cast("string").alias("_unknown_store"), F.col("sku").alias("_unknown_sku")
        )
    )
    unknown = (
        unknown_stores.unionByName(unknown_skus)
        .groupBy(*LINE_KEY)
        .agg(F.min("_unknown_store").alias("_unknown_store"), F.min("_unknown_sku").alias("_unknown_sku"))
    )
    flagged = events.join(unknown, list(LINE_KEY), "left")
    return resolve_reasons(
        flagged,
        [
            (reasons.UNKNOWN_STORE, F.when(fine, F.concat(F.lit("store_id "), F.col("_unknown_store")))),
            (reasons.UNKNOWN_SKU, F.when(fine, F.concat(F.lit("sku "), F.col("_unknown_sku")))),
        ],
    ).drop("_unknown_store", "_unknown_sku")


def mark_duplicates(events: DataFrame, existing: DataFrame) -> DataFrame:
    """`duplicate_event_id` for every line but one per event_id, across this batch and silver.

    `existing` has `event_id`, `bronze_key`, `bronze_line` of events already in silver (one row
    per event). A line that is itself the silver row (same bronze key and line) is accepted
    again, which the MERGE then finds and skips: that is what makes a rerun change nothing.
    """
    seen = existing.select(
        "event_id", F.col("bronze_key").alias("_silver_key"), F.col("bronze_line").alias("_silver_line")
    ).dropDuplicates(["event_id"])
    fine = F.col("reason").isNull() & F.col("event_id").isNotNull()
    joined = events.join(seen, "event_id", "left")
    is_silver_row = (F.col("_silver_key") == F.col("bronze_key")) & (
        F.col("_silver_line") == F.col("bronze_line")
    )
    joined = joined.withColumn("_is_silver_row", F.coalesce(is_silver_row, F.lit(False)))
    order = Window.partitionBy("event_id").orderBy(
        F.col("_is_silver_row").desc(), F.col("arrived_at").asc_nulls_last(), *LINE_KEY
    )
    joined = joined.withColumn("_rank", F.when(fine, F.row_number().over(order)))
    in_silver = F.col("_silver_key").isNotNull() & ~F.col("_is_silver_row")
    detail = first_failure(
        [
            (
                fine & in_silver,
                F.concat(
                    F.lit("already in silver from "), F.col("_silver_key"), F.lit(":"), F.col("_silver_line")
                ),
            ),
            (fine & (F.col("_rank") > 1), F.lit("repeats an earlier line of this batch")),
        ]
    )
    return resolve_reasons(joined, [(reasons.DUPLICATE_EVENT_ID, detail)]).drop(
        "_silver_key", "_silver_line", "_is_silver_row", "_rank"
    )


def mark_duplicate_promotions(events: DataFrame, announced: DataFrame) -> DataFrame:
    """`duplicate_promotion_id` for accepted promotions whose promotion_id is already announced.

    `events` is `check_columns` output; `announced` has `promotion_id`, `event_id` of the
    promotions in silver. The promotion in silver wins (the same event reprocessed is not a
    duplicate of itself); else the earliest line of the batch, as for event ids. Only the few
    promotion lines are ranked, so the batch's other lines are not shuffled.
    """
    fine = F.col("reason").isNull() & F.col("promotion_id").isNotNull()
    known = announced.select("promotion_id", F.col("event_id").alias("_known_event")).dropDuplicates(
        ["promotion_id"]
    )
    candidates = events.where(fine).select(*LINE_KEY, "promotion_id", "event_id", "arrived_at")
    order = Window.partitionBy("promotion_id").orderBy(F.col("arrived_at").asc_nulls_last(), *LINE_KEY)
    ranked = candidates.join(F.broadcast(known), "promotion_id", "left").withColumn(
        "_rank", F.row_number().over(order)
    )
    elsewhere = F.col("_known_event").isNotNull() & (F.col("_known_event") != F.col("event_id"))
    verdicts = ranked.select(
        *LINE_KEY,
        first_failure(
            [
                (
                    elsewhere,
                    F.concat(
                        F.lit("promotion_id "),
                        F.col("promotion_id"),
                        F.lit(" already announced by event "),
                        F.col("_known_event"),
                    ),
                ),
                (
                    F.col("_known_event").isNull() & (F.col("_rank") > 1),
                    F.concat(
                        F.lit("promotion_id "),
                        F.col("promotion_id"),
                        F.lit(" announced by an earlier line of this batch"),
                    ),
                ),
            ]
        ).alias("_duplicate_promotion"),
    )
    flagged = events.join(F.broadcast(verdicts), list(LINE_KEY), "left")
    return resolve_reasons(
        flagged, [(reasons.DUPLICATE_PROMOTION_ID, F.when(fine, F.col("_duplicate_promotion")))]
    ).drop("_duplicate_promotion")


def keep_settled(events: DataFrame, quarantined: DataFrame) -> DataFrame:
    """Lines already in the quarantine keep the reason they got there, whatever they get now.

    `quarantined` has `bronze_key`, `bronze_line`, `reason`, `detail` of quarantined lines of
    this batch's objects. Only a reprocessed object has any; the MERGE then skips them.
    """
    settled = quarantined.select(
        *LINE_KEY, F.col("reason").alias("_settled_reason"), F.col("detail").alias("_settled_detail")
    ).dropDuplicates(list(LINE_KEY))
    joined = events.join(settled, list(LINE_KEY), "left")
    again = F.col("_settled_reason").isNotNull()
    return (
        joined.withColumn("reason", F.when(again, F.col("_settled_reason")).otherwise(F.col("reason")))
        .withColumn("detail", F.when(again, F.col("_settled_detail")).otherwise(F.col("detail")))
        .drop("_settled_reason", "_settled_detail")
    )
