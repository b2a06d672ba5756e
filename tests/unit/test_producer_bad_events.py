"""Injected bad input: each class at about its share of the rate, broken as described, in the truth."""

from __future__ import annotations

import json
from collections import Counter
from itertools import islice

import jsonschema
import pytest

from lakehouse.contracts.events import BUSINESS_EVENT_TYPES, load_schema
from producer.bad_events import BAD_CLASSES
from producer.simulation import Simulation, SimulationConfig

pytestmark = pytest.mark.unit

RATE = 0.14  # 2 % per class over seven classes
BASE = {"seed": 21, "stores": 5, "products": 150, "days": 4}


@pytest.fixture(scope="module")
def clean():
    simulation = Simulation(SimulationConfig(**BASE))
    return simulation, list(simulation)


@pytest.fixture(scope="module")
def dirty():
    simulation = Simulation(SimulationConfig(**BASE, bad_rate=RATE))
    return simulation, list(simulation)


def _schema_errors(payload: bytes) -> list[str]:
    document = json.loads(payload)
    schema = (
        load_schema(document["event_type"]) if document.get("event_type") in BUSINESS_EVENT_TYPES else None
    )
    if schema is None:
        return ["event_type"]
    return [error.message for error in jsonschema.Draft202012Validator(schema).iter_errors(document)]


def test_each_class_comes_at_about_its_share_of_the_rate(dirty):
    simulation, events = dirty
    business = sum(simulation.truth.events_by_type[kind] for kind in BUSINESS_EVENT_TYPES)
    produced = Counter(event.bad_class for event in events if event.bad_class)
    assert set(produced) == set(BAD_CLASSES)
    for bad_class in BAD_CLASSES:
        assert produced[bad_class] / business == pytest.approx(RATE / len(BAD_CLASSES), rel=0.2), bad_class
    assert dict(produced) == dict(simulation.truth.bad_events_by_class)


def test_truth_names_every_bad_event_by_seq_and_event_id(dirty):
    simulation, events = dirty
    listed = {(entry["seq"], entry["event_id"], entry["class"]) for entry in simulation.truth.bad_events}
    actual = {(event.seq, event.event_id, event.bad_class) for event in events if event.bad_class}
    assert listed == actual
    assert [event.seq for event in events] == list(range(len(events)))
    assert all(entry["detail"] for entry in simulation.truth.bad_events)


def test_invalid_classes_fail_where_the_pipeline_should_catch_them(dirty):
    simulation, events = dirty
    skus = simulation.catalog.sku_set()
    for event in events:
        if event.bad_class == "malformed_json":
            with pytest.raises(ValueError):
                json.loads(event.payload)
            assert b"\n" not in event.payload
        elif event.bad_class in ("missing_field", "wrong_type", "bad_quantity"):
            assert _schema_errors(event.payload), event.payload
        elif event.bad_class == "unknown_sku":
            assert not _schema_errors(event.payload), "well-formed: only a catalog lookup catches it"
            assert _named_skus(json.loads(event.payload)) - skus


def _named_skus(document: dict) -> set[str]:
    if document["event_type"] == "promotion":
        return set(document["skus"])
    return {line["sku"] for line in document["lines"]}


def test_purchase_orders_and_promotions_get_every_invalid_class():
    """Every new event gets a broken copy: each class breaks it as silver will see it."""
    classes = ("missing_field", "wrong_type", "bad_quantity", "unknown_sku")
    simulation = Simulation(SimulationConfig(**BASE, bad_rate=1.0, bad_classes=classes))
    events = list(simulation)
    skus = simulation.catalog.sku_set()
    real = {e.event_id: json.loads(e.payload) for e in events if e.bad_class is None}
    entries = {entry["seq"]: entry for entry in simulation.truth.bad_events}
    seen = Counter()
    for event in events:
        if event.bad_class is None or event.event_type not in ("purchase_order", "promotion"):
            continue
        seen[(event.event_type, event.bad_class)] += 1
        document = json.loads(event.payload)
        original = real[entries[event.seq]["original_event_id"]]
        if event.event_type == "promotion":
            assert document.get("promotion_id", original["promotion_id"]) == original["promotion_id"]
        if event.bad_class == "unknown_sku":
            assert not _schema_errors(event.payload) and _named_skus(document) - skus
        else:
            assert _schema_errors(event.payload), (event.bad_class, document)
        if event.bad_class == "bad_quantity" and event.event_type == "promotion":
            assert not 1 <= document["discount_percent"] <= 90
    assert set(seen) == {(kind, bad) for kind in ("purchase_order", "promotion") for bad in classes}


def test_valid_classes_are_real_events_resent_or_delayed(dirty):
    simulation, events = dirty
    by_seq = {event.seq: event for event in events}
    entries = {entry["seq"]: entry for entry in simulation.truth.bad_events}
    delays = simulation.config.late_delay_ms()
    latest = late = out_of_order = 0
    for event in events:
        if event.bad_class == "duplicate_event_id":
            entry = entries[event.seq]
            original = by_seq[entry["original_seq"]]
            assert original.seq < event.seq
            assert original.payload == event.payload and original.event_id == event.event_id
        elif event.bad_class == "late_event":
            assert not _schema_errors(event.payload)
            entry = entries[event.seq]
            assert delays[0] <= entry["delay_seconds"] * 1000 <= delays[1]
            if not entry["released_at_end"]:
                out_of_order += event.event_time_ms < latest
                late += 1
                # Released just before the first event newer than its event_time plus the delay.
                following = next(e for e in islice(events, event.seq + 1, None) if e.bad_class is None)
                assert following.event_time_ms >= event.event_time_ms + entry["delay_seconds"] * 1000
        latest = max(latest, event.event_time_ms)
    # Mostly behind newer events; at night a delay may pass with nothing newer to overtake it.
    assert out_of_order > 0.8 * late > 0


def test_bad_input_never_changes_the_real_events(clean, dirty):
    _, clean_events = clean
    _, dirty_events = dirty
    real = [e.payload for e in dirty_events if e.bad_class in (None, "late_event")]
    assert sorted(real) == sorted(e.payload for e in clean_events)
    assert len({json.loads(p)["event_id"] for p in real}) == len(real)


def test_a_subset_of_classes_can_be_chosen():
    simulation = Simulation(SimulationConfig(**BASE, bad_rate=0.05, bad_classes=("unknown_sku",)))
    produced = Counter(event.bad_class for event in simulation if event.bad_class)
    assert set(produced) == {"unknown_sku"}
