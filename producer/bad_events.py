"""Bad input on purpose, so the pipeline's validation, quarantine and dedup can be scored.

`--bad-rate r` gives each business event (sale, delivery, stock_count, purchase_order,
promotion) a chance `r` of one defect, the class drawn uniformly from the enabled ones, so
each of the seven classes comes at about `r / 7` of the business events. Reference snapshots
are never touched.

Invalid classes add an extra, broken copy of the event with a fresh `event_id` (and, for a
sale, a fresh `basket_id`); they never replace a real event, so the valid events alone
reproduce the truth exactly and a correct pipeline quarantines every one of them:

- `malformed_json`: bytes that do not parse as JSON (truncated, `=` for `:`, a trailing comma,
  single quotes);
- `missing_field`: a required field removed (envelope, event or line level; never event_id);
- `wrong_type`: a field with the wrong JSON type (quantity as a string, money as a number...);
- `bad_quantity`: a line quantity of zero or below (a negative counted quantity for counts, a
  discount outside 1..90 % for promotions);
- `unknown_sku`: a line SKU (for promotions, one of its SKUs) that is not in the catalog.

A broken copy of a promotion keeps its promotion_id: silver must reject it for its defect, and
the real announcement must still be accepted.

Valid classes change delivery, not content; the event is real and must be counted once:

- `duplicate_event_id`: an exact copy of a recent event is sent again (a retransmission);
- `late_event`: the event is held back and sent after later events (delay in the truth).

Each injected event is listed in the truth with its `seq` and `event_id`; the bad-input
random stream is separate from the simulation's, so turning `--bad-rate` on changes no valid
event, only the order of the late ones.
"""

from __future__ import annotations

import heapq
import json
import random
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace

from lakehouse.contracts.events import (
    BUSINESS_EVENT_TYPES,
    DELIVERY,
    PROMOTION,
    PURCHASE_ORDER,
    SALE,
    STOCK_COUNT,
)
from producer.events import Event, encode, random_uuid
from producer.truth import GroundTruth

MALFORMED_JSON = "malformed_json"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
BAD_QUANTITY = "bad_quantity"
UNKNOWN_SKU = "unknown_sku"
DUPLICATE_EVENT_ID = "duplicate_event_id"
LATE_EVENT = "late_event"

INVALID_CLASSES = (MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE, BAD_QUANTITY, UNKNOWN_SKU)
VALID_CLASSES = (DUPLICATE_EVENT_ID, LATE_EVENT)
BAD_CLASSES = INVALID_CLASSES + VALID_CLASSES

_REQUIRED = {
    SALE: ("event_type", "schema_version", "event_time", "store_id", "basket_id", "payment_method", "lines"),
    DELIVERY: ("event_type", "schema_version", "event_time", "store_id", "order_id", "lines"),
    STOCK_COUNT: ("event_type", "schema_version", "event_time", "store_id", "count_id", "lines"),
    PURCHASE_ORDER: (
        "event_type",
        "schema_version",
        "event_time",
        "store_id",
        "order_id",
        "ordered_at",
        "expected_at",
        "lines",
    ),
    # store_id and store_ids are null on chain-wide promotions: removing them breaks nothing.
    PROMOTION: (
        "event_type",
        "schema_version",
        "event_time",
        "promotion_id",
        "skus",
        "discount_percent",
        "first_day",
        "last_day",
    ),
}
_REQUIRED_LINE = {
    SALE: ("sku", "quantity", "unit_price", "discount"),
    DELIVERY: ("sku", "quantity"),
    STOCK_COUNT: ("sku", "counted_quantity"),
    PURCHASE_ORDER: ("sku", "quantity"),
}
_QUANTITY_FIELD = {
    SALE: "quantity",
    DELIVERY: "quantity",
    STOCK_COUNT: "counted_quantity",
    PURCHASE_ORDER: "quantity",
}
DISCOUNT_RANGE = (1, 90)  # percent, as the promotion schema allows
_RECENT_EVENTS = 64


class BadInputInjector:
    """Numbers the simulation's events and weaves bad input in, recording each in the truth."""

    def __init__(
        self,
        *,
        rate: float,
        classes: Iterable[str],
        seed: int,
        late_delay_ms: tuple[int, int],
        truth: GroundTruth,
    ) -> None:
        self.classes = tuple(classes)
        unknown = set(self.classes) - set(BAD_CLASSES)
        if unknown:
            raise ValueError(f"unknown bad class(es) {sorted(unknown)}; choose from {', '.join(BAD_CLASSES)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"bad rate {rate} must be between 0 and 1")
        self.rate = rate if self.classes else 0.0
        self.rng = random.Random(f"{seed}:bad-input")
        self.late_delay_ms = late_delay_ms
        self.truth = truth
        self._seq = 0
        self._recent: deque[Event] = deque(maxlen=_RECENT_EVENTS)
        self._held: list[tuple[int, int, Event, int]] = []  # (release ms, tie-breaker, event, delay)
        self._holds = 0

    def run(self, events: Iterable[Event]) -> Iterator[Event]:
        """The final output: every event numbered, bad input woven in, late events released."""
        rate, rng = self.rate, self.rng
        for event in events:
            while self._held and self._held[0][0] <= event.event_time_ms:
                yield self._release()
            if rate and event.event_type in BUSINESS_EVENT_TYPES and rng.random() < rate:
                yield from self._inject(event, rng.choice(self.classes))
            else:
                yield self._emit(event)
        while self._held:
            yield self._release(at_end=True)

    def _emit(self, event: Event, **truth: object) -> Event:
        # Built field by field: dataclasses.replace costs several times more on this hot path.
        event = Event(
            self._seq,
            event.event_id,
            event.event_type,
            event.partition_key,
            event.event_time_ms,
            event.payload,
            event.sale_lines,
            event.bad_class,
        )
        self._seq += 1
        counts = self.truth
        counts.events_emitted += 1
        if event.bad_class is None or event.bad_class == LATE_EVENT:
            counts.events_by_type[event.event_type] += 1  # real events: each counted once
        if event.bad_class is None:
            if event.event_type in BUSINESS_EVENT_TYPES:
                self._recent.append(event)
        else:
            counts.bad_events_by_class[event.bad_class] += 1
            counts.bad_events.append(
                {
                    "seq": event.seq,
                    "event_id": event.event_id,
                    "class": event.bad_class,
                    "event_type": event.event_type,
                    **truth,
                }
            )
        return event

    def _inject(self, event: Event, bad_class: str) -> Iterator[Event]:
        if bad_class == LATE_EVENT:
            delay = self.rng.randint(*self.late_delay_ms)
            self._holds += 1  # tie-breaker: equal release times keep arrival order
            heapq.heappush(self._held, (event.event_time_ms + delay, self._holds, event, delay))
            return
        original = self._emit(event)
        yield original
        if bad_class == DUPLICATE_EVENT_ID:
            copy = self.rng.choice(self._recent)
            yield self._emit(
                replace(copy, sale_lines=0, bad_class=DUPLICATE_EVENT_ID),
                detail=f"exact copy of seq {copy.seq}",
                original_seq=copy.seq,
            )
            return
        document = json.loads(original.payload)
        event_id = random_uuid(self.rng)
        document["event_id"] = event_id
        if "basket_id" in document:
            document["basket_id"] = random_uuid(self.rng)
        payload, detail = _CORRUPTERS[bad_class](self, document)
        yield self._emit(
            replace(event, event_id=event_id, payload=payload, sale_lines=0, bad_class=bad_class),
            detail=detail,
            original_event_id=original.event_id,
        )

    def _release(self, at_end: bool = False) -> Event:
        _, _, event, delay = heapq.heappop(self._held)
        if at_end:  # the run ended before the delay ran out: sent last rather than never
            detail = f"held for {delay / 1000:.3f} s but the run ended first: sent at the end"
        else:
            detail = f"sent {delay / 1000:.3f} s of simulated time after its event_time"
        return self._emit(
            replace(event, bad_class=LATE_EVENT),
            detail=detail,
            delay_seconds=delay / 1000,
            released_at_end=at_end,
        )

    def _malformed(self, document: dict) -> tuple[bytes, str]:
        text = encode(document)
        how = self.rng.randrange(4)
        if how == 0:
            cut = self.rng.randint(len(text) // 2, len(text) - 1)
            payload, detail = text[:cut], f"truncated to {cut} of {len(text)} bytes"
        elif how == 1:
            payload, detail = text.replace(b'":', b'"=', 1), "'=' instead of ':' after the first key"
        elif how == 2:
            payload, detail = text[:-1] + b",}", "trailing comma before the closing brace"
        else:
            payload, detail = text.replace(b'"event_type"', b"'event_type'", 1), "single-quoted key"
        try:
            json.loads(payload)
        except ValueError:
            return payload, detail
        raise AssertionError(f"malformed payload parsed after all: {payload!r}")

    def _missing_field(self, document: dict) -> tuple[bytes, str]:
        event_type = document["event_type"]
        lines = document.get("lines")
        if lines and self.rng.random() < 0.4:
            name = self.rng.choice(_REQUIRED_LINE[event_type])
            position = self.rng.randrange(len(lines))
            del lines[position][name]
            return encode(document), f"lines[{position}].{name} removed"
        name = self.rng.choice(_REQUIRED[event_type])
        del document[name]
        return encode(document), f"{name} removed"

    def _wrong_type(self, document: dict) -> tuple[bytes, str]:
        event_type = document["event_type"]
        if event_type == PROMOTION:
            return self._promotion_wrong_type(document)
        line = document["lines"][0]
        choices = ["event_time", "store_id", "schema_version", "lines", "line_quantity"]
        if event_type == SALE:
            choices.append("unit_price")
        field = self.rng.choice(choices)
        if field == "event_time":
            document["event_time"] = 1_700_000_000_000
            return encode(document), "event_time as epoch milliseconds (number)"
        if field == "store_id":
            document["store_id"] = int(document["store_id"].lstrip("S"))
            return encode(document), "store_id as a number"
        if field == "schema_version":
            document["schema_version"] = str(document["schema_version"])
            return encode(document), "schema_version as a string"
        if field == "lines":
            document["lines"] = {"0": line}
            return encode(document), "lines as an object"
        if field == "unit_price":
            line["unit_price"] = float(line["unit_price"])
            return encode(document), "lines[0].unit_price as a number"
        name = _QUANTITY_FIELD[event_type]
        line[name] = str(line[name])
        return encode(document), f"lines[0].{name} as a string"

    def _promotion_wrong_type(self, document: dict) -> tuple[bytes, str]:
        field = self.rng.choice(["event_time", "schema_version", "skus", "discount_percent", "first_day"])
        if field == "event_time":
            document["event_time"] = 1_700_000_000_000
            return encode(document), "event_time as epoch milliseconds (number)"
        if field == "schema_version":
            document["schema_version"] = str(document["schema_version"])
            return encode(document), "schema_version as a string"
        if field == "skus":
            document["skus"] = {"0": document["skus"][0]}
            return encode(document), "skus as an object"
        if field == "discount_percent":
            document["discount_percent"] = str(document["discount_percent"])
            return encode(document), "discount_percent as a string"
        document["first_day"] = int(document["first_day"].replace("-", ""))
        return encode(document), "first_day as a number (YYYYMMDD)"

    def _bad_quantity(self, document: dict) -> tuple[bytes, str]:
        event_type = document["event_type"]
        if event_type == PROMOTION:
            low, high = DISCOUNT_RANGE
            value = self.rng.choice((self.rng.randint(-5, low - 1), self.rng.randint(high + 1, 150)))
            document["discount_percent"] = value
            return encode(document), f"discount_percent = {value}"
        name = _QUANTITY_FIELD[event_type]
        position = self.rng.randrange(len(document["lines"]))
        # A counted quantity of zero is a real empty shelf, so counts only get negatives.
        low = -5
        high = -1 if event_type == STOCK_COUNT else 0
        value = self.rng.randint(low, high)
        document["lines"][position][name] = value
        return encode(document), f"lines[{position}].{name} = {value}"

    def _unknown_sku(self, document: dict) -> tuple[bytes, str]:
        # Catalog SKUs have five digits (at most 99,999 products), so six digits are unknown
        # while still matching the schema's pattern: only a lookup against products finds it.
        if document["event_type"] == PROMOTION:
            skus = document["skus"]
            position = self.rng.randrange(len(skus))
            sku = f"SKU-{self.rng.randrange(100_000, 1_000_000)}"
            skus[position] = sku
            return encode(document), f"skus[{position}] = {sku} (not in the catalog)"
        lines = document["lines"]
        position = self.rng.randrange(len(lines))
        sku = f"SKU-{self.rng.randrange(100_000, 1_000_000)}"
        lines[position]["sku"] = sku
        return encode(document), f"lines[{position}].sku = {sku} (not in the catalog)"


_CORRUPTERS = {
    MALFORMED_JSON: BadInputInjector._malformed,
    MISSING_FIELD: BadInputInjector._missing_field,
    WRONG_TYPE: BadInputInjector._wrong_type,
    BAD_QUANTITY: BadInputInjector._bad_quantity,
    UNKNOWN_SKU: BadInputInjector._unknown_sku,
}
