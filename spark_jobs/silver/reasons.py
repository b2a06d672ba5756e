"""Why a bronze line was quarantined: every reason code, in the order the checks apply.

A line gets exactly one reason, the first that applies in `REASONS` order: a payload that is
not JSON is reported as malformed, not also as missing its fields. The order goes from "cannot
be read" to "readable but wrong" to "right but already seen", so the code names the most
basic fault, the one to fix first.
"""

from __future__ import annotations

from lakehouse.contracts.envelope import OVERSIZE_RECORD as OVERSIZE

MALFORMED_BRONZE_LINE = "malformed_bronze_line"
OVERSIZE_RECORD = OVERSIZE  # decided by ingestion, which keeps such a record whole
MALFORMED_JSON = "malformed_json"
MISSING_FIELD = "missing_field"
UNSUPPORTED_EVENT_TYPE = "unsupported_event_type"
UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
WRONG_TYPE = "wrong_type"
NON_POSITIVE_QUANTITY = "non_positive_quantity"
NEGATIVE_QUANTITY = "negative_quantity"
QUANTITY_OUT_OF_RANGE = "quantity_out_of_range"
NEGATIVE_PRICE = "negative_price"
AMOUNT_OUT_OF_RANGE = "amount_out_of_range"
LINE_NUMBER_OUT_OF_RANGE = "line_number_out_of_range"
OUT_OF_RANGE = "out_of_range"
EXPECTED_BEFORE_ORDERED = "expected_before_ordered"
PROMOTION_ENDS_BEFORE_START = "promotion_ends_before_start"
DISCOUNT_OUT_OF_RANGE = "discount_out_of_range"
DISCOUNT_ABOVE_LINE_VALUE = "discount_above_line_value"
DUPLICATE_LINE_NUMBER = "duplicate_line_number"
EVENT_TIME_TOO_EARLY = "event_time_too_early"
EVENT_TIME_IN_FUTURE = "event_time_in_future"
UNKNOWN_STORE = "unknown_store"
UNKNOWN_SKU = "unknown_sku"
DUPLICATE_EVENT_ID = "duplicate_event_id"
DUPLICATE_PROMOTION_ID = "duplicate_promotion_id"

REASONS: dict[str, str] = {
    MALFORMED_BRONZE_LINE: "the bronze line itself is not the JSON that ingestion writes (an ingestion bug)",
    OVERSIZE_RECORD: "a Kinesis aggregate that inflates past 1 MiB, kept whole and unread as it came",
    MALFORMED_JSON: "the payload is not a JSON object (broken JSON, not UTF-8, an array or a scalar)",
    MISSING_FIELD: "a required field is absent, null, blank, or a required list is empty",
    UNSUPPORTED_EVENT_TYPE: "event_type is not one silver knows",
    UNSUPPORTED_SCHEMA_VERSION: "schema_version is not one silver has a schema for, for that event type",
    WRONG_TYPE: "a field has the wrong JSON type or format (UUID, ISO-8601 time with zone, money)",
    NON_POSITIVE_QUANTITY: "a sold or delivered quantity is zero or negative",
    NEGATIVE_QUANTITY: "a counted quantity is negative (zero is a real empty shelf)",
    QUANTITY_OUT_OF_RANGE: "a line's quantity is above its declared maximum (gold sums them as integers)",
    NEGATIVE_PRICE: "a money amount (price, discount, cost) is negative",
    AMOUNT_OUT_OF_RANGE: "a money amount, or a sale line's quantity x unit price, is above what gold stores",
    LINE_NUMBER_OUT_OF_RANGE: "a line number is outside 1..32767 (gold keys lines by a smallint from 1)",
    OUT_OF_RANGE: "another number is below its declared minimum (lead time, floor area)",
    EXPECTED_BEFORE_ORDERED: "a purchase order's expected_at is before its ordered_at",
    PROMOTION_ENDS_BEFORE_START: "a promotion's last_day is before its first_day",
    DISCOUNT_OUT_OF_RANGE: "a promotion's discount_percent is outside 1..90",
    DISCOUNT_ABOVE_LINE_VALUE: "a sale line's discount is larger than its quantity x unit price",
    DUPLICATE_LINE_NUMBER: "two lines of one event share their line key (line number; a promotion's sku)",
    EVENT_TIME_TOO_EARLY: "event_time is before 2000-01-01 (a clock reset or a default date, not a sale)",
    EVENT_TIME_IN_FUTURE: "event_time is later than the Kinesis arrival time plus the tolerance",
    UNKNOWN_STORE: "store_id is in no store event, in silver or in the same batch",
    UNKNOWN_SKU: "a line's sku is in no product event, in silver or in the same batch",
    DUPLICATE_EVENT_ID: "event_id was already accepted from another bronze line (earlier or in this batch)",
    DUPLICATE_PROMOTION_ID: "another event announced this promotion_id already (in silver or this batch)",
}
