"""The simulator: reproducible, shaped as configured, and physically consistent.

Consistency is checked the way downstream will see it: replaying the event stream alone
(opening count, then sales, deliveries and cycle counts) must never go negative, must agree
with the simulator's own stock at the end, and must find exactly the stockouts in the truth.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from lakehouse.contracts.events import EVENT_TYPES, load_schema
from producer import demand
from producer.simulation import LIVE, Simulation, SimulationConfig

pytestmark = pytest.mark.unit


def run(config: SimulationConfig) -> tuple[Simulation, list]:
    simulation = Simulation(config)
    return simulation, list(simulation)


@pytest.fixture(scope="module")
def fortnight():
    """Two weeks, 6 stores, 300 SKUs: enough volume for the distribution checks."""
    simulation, events = run(SimulationConfig(seed=11, stores=6, products=300, days=14))
    return simulation, events, [json.loads(event.payload) for event in events]


def test_same_seed_same_bytes_and_truth():
    config = SimulationConfig(seed=5, stores=4, products=120, days=2, bad_rate=0.05)
    first, first_events = run(config)
    second, second_events = run(config)
    assert [e.payload for e in first_events] == [e.payload for e in second_events]
    assert json.dumps(first.truth.as_dict()) == json.dumps(second.truth.as_dict())
    _, other = run(SimulationConfig(seed=6, stores=4, products=120, days=2, bad_rate=0.05))
    assert [e.payload for e in other] != [e.payload for e in first_events]


def test_every_event_matches_its_published_schema(fortnight):
    _, events, documents = fortnight
    validators = {kind: jsonschema.Draft202012Validator(load_schema(kind)) for kind in EVENT_TYPES}
    seen = Counter()
    for event, document in zip(events, documents, strict=True):
        # All reference and stock events, and a sample of sales (validation is slow).
        if event.event_type != "sale" or event.seq % 50 == 0:
            validators[event.event_type].validate(document)
            seen[event.event_type] += 1
        assert document["event_id"] == event.event_id
        assert document["event_type"] == event.event_type
    assert set(seen) == set(EVENT_TYPES)


def test_envelope_order_money_and_time_format(fortnight):
    _, events, documents = fortnight
    sale = next(d for d in documents if d["event_type"] == "sale")
    assert list(sale)[:5] == ["event_id", "event_type", "schema_version", "event_time", "store_id"]
    assert all(
        isinstance(line["unit_price"], str) and line["unit_price"].count(".") == 1 for line in sale["lines"]
    )
    times = [event.event_time_ms for event in events]
    assert times == sorted(times), "without bad input, events leave in simulated-time order"
    assert documents[0]["event_time"] == "2024-01-01T00:00:00.000Z"


def _store_zones(documents):
    return {
        d["store_id"]: (ZoneInfo(d["timezone"]), d["size"]) for d in documents if d["event_type"] == "store"
    }


def test_baskets_follow_the_hour_of_day_curve_in_local_time(fortnight):
    simulation, _, documents = fortnight
    zones = _store_zones(documents)
    observed = Counter()
    for document in documents:
        if document["event_type"] == "sale":
            zone, _ = zones[document["store_id"]]
            when = datetime.fromisoformat(document["event_time"].replace("Z", "+00:00"))
            observed[when.astimezone(zone).hour] += 1
    expected = Counter()
    for store in simulation.catalog.stores:
        for hour in range(24):
            if demand.is_open(store, hour):
                expected[hour] += demand.BASKETS_PER_HOUR[store.size] * demand.HOUR_PROFILE[hour]
    total_observed, total_expected = sum(observed.values()), sum(expected.values())
    assert set(observed) <= set(expected), "no sale while every store is closed"
    for hour, weight in expected.items():
        share = weight / total_expected
        if share > 0.03:
            assert observed[hour] / total_observed == pytest.approx(share, rel=0.12), hour


def test_baskets_follow_the_day_of_week_factors(fortnight):
    _, _, documents = fortnight
    zones = _store_zones(documents)
    by_weekday = Counter()
    for document in documents:
        if document["event_type"] == "sale":
            zone, _ = zones[document["store_id"]]
            when = datetime.fromisoformat(document["event_time"].replace("Z", "+00:00"))
            by_weekday[when.astimezone(zone).weekday()] += 1
    total = sum(by_weekday.values())
    factors = sum(demand.DAY_OF_WEEK)
    for weekday, factor in enumerate(demand.DAY_OF_WEEK):
        assert by_weekday[weekday] / total == pytest.approx(factor / factors, rel=0.08), weekday


def test_popularity_is_skewed_like_the_configured_weights(fortnight):
    simulation, _, documents = fortnight
    units = Counter()
    for document in documents:
        if document["event_type"] == "sale":
            for line in document["lines"]:
                units[line["sku"]] += line["quantity"]
    weights = Counter()
    for store_weights in simulation.demand.store_weights:
        total = sum(store_weights)
        for index, weight in enumerate(store_weights):
            weights[simulation.catalog.products[index].sku] += weight / total
    top = [sku for sku, _ in weights.most_common(30)]
    expected_share = sum(weights[sku] for sku in top) / sum(weights.values())
    observed_share = sum(units[sku] for sku in top) / sum(units.values())
    assert 0.3 < expected_share < 0.7, "Zipf with exponent 1 puts a large share on 10 % of SKUs"
    assert observed_share == pytest.approx(expected_share, rel=0.15)


def test_basket_shape_payment_mix_and_loyalty_share(fortnight):
    simulation, _, documents = fortnight
    sales = [d for d in documents if d["event_type"] == "sale"]
    mean_lines = sum(len(d["lines"]) for d in sales) / len(sales)
    # Three picks on average, a few merge into one line when the same SKU is picked twice.
    assert 2.5 < mean_lines <= simulation.config.mean_basket_lines
    payments = Counter(d["payment_method"] for d in sales)
    for method, weight in zip(demand.PAYMENT_METHODS, demand.PAYMENT_WEIGHTS, strict=True):
        assert payments[method] / len(sales) == pytest.approx(weight, abs=0.02)
    loyal = sum(d["loyalty_id"] is not None for d in sales) / len(sales)
    assert loyal == pytest.approx(simulation.config.loyalty_share, abs=0.02)
    for line in (line for d in sales for line in d["lines"]):
        net_cents = line["quantity"] * round(float(line["unit_price"]) * 100) - round(
            float(line["discount"]) * 100
        )
        assert net_cents > 0
        assert (line["promotion_id"] is None) == (line["discount"] == "0.00")


def test_promotions_lift_demand():
    simulation, events = run(SimulationConfig(seed=3, stores=3, products=150, days=21, promo_share=0.2))
    on, off = Counter(), Counter()
    weeks_on, weeks_off = Counter(), Counter()
    for event in events:
        if event.event_type != "sale":
            continue
        document = json.loads(event.payload)
        week = demand.week_of(event.event_time_ms)
        promoted = simulation.demand.promotions(week)
        for line in document["lines"]:
            index = int(line["sku"][4:]) - 1
            (on if index in promoted else off)[index] += line["quantity"]
    for week in {demand.week_of(e.event_time_ms) for e in events}:
        for index in range(150):
            (weeks_on if index in simulation.demand.promotions(week) else weeks_off)[index] += 1
    both = [i for i in range(150) if weeks_on[i] and weeks_off[i]]
    rate_on = sum(on[i] / weeks_on[i] for i in both)
    rate_off = sum(off[i] / weeks_off[i] for i in both)
    # Lifts are 1.4x to 2.2x; stockouts on promoted SKUs (the forecast ignores promotions) eat some.
    assert rate_on / rate_off > 1.3


def test_replaying_the_stream_never_goes_negative_and_ends_at_the_simulators_stock(fortnight):
    simulation, events, documents = fortnight
    book: dict[tuple[str, str], int] = {}
    emptied = set()
    restocked = set()
    for event, document in zip(events, documents, strict=True):
        kind, store = document["event_type"], document["store_id"]
        if kind == "stock_count":
            for line in document["lines"]:
                key = (store, line["sku"])
                if document["count_type"] == "cycle":
                    assert line["counted_quantity"] <= book[key], "shrinkage only ever removes stock"
                    if book[key] > 0 and line["counted_quantity"] == 0:
                        emptied.add((*key, event.event_time_ms))
                book[key] = line["counted_quantity"]
        elif kind == "sale":
            for line in document["lines"]:
                key = (store, line["sku"])
                assert 0 < line["quantity"] <= book[key], "a sale never exceeds what is on the shelf"
                book[key] -= line["quantity"]
                if book[key] == 0:
                    emptied.add((*key, event.event_time_ms))
        elif kind == "delivery":
            for line in document["lines"]:
                key = (store, line["sku"])
                if book[key] == 0:
                    restocked.add((*key, event.event_time_ms))
                book[key] += line["quantity"]
    for index, inventory in enumerate(simulation.inventories):
        store = simulation.catalog.stores[index].store_id
        for product, on_hand in zip(simulation.catalog.products, inventory.on_hand, strict=True):
            assert book[(store, product.sku)] == on_hand >= 0

    truth = simulation.truth
    assert {(s.store_id, s.sku, s.empty_since_ms) for s in truth.stockouts} == emptied
    assert {(s.store_id, s.sku, s.restocked_at_ms) for s in truth.stockouts if s.restocked_at_ms} == restocked
    assert sum(s.lost_units for s in truth.stockouts) == truth.lost_units > 0


def test_deliveries_bring_exactly_what_was_ordered_after_the_lead_time(fortnight):
    simulation, events, documents = fortnight
    orders = {order["order_id"]: order for order in simulation.truth.orders}
    end = events[-1].event_time_ms
    delivered = set()
    lead_times = {product.sku: product.lead_time_days for product in simulation.catalog.products}
    for document in documents:
        if document["event_type"] != "delivery":
            continue
        order = orders[document["order_id"]]
        assert document["order_id"] not in delivered
        delivered.add(document["order_id"])
        assert document["store_id"] == order["store_id"]
        assert document["event_time"] == order["expected_at"]
        assert [(line["sku"], line["quantity"]) for line in document["lines"]] == [
            (line["sku"], line["quantity"]) for line in order["lines"]
        ]
        ordered = datetime.fromisoformat(order["ordered_at"].replace("Z", "+00:00"))
        arrived = datetime.fromisoformat(order["expected_at"].replace("Z", "+00:00"))
        lead = lead_times[order["lines"][0]["sku"]]
        assert lead - 1 <= (arrived - ordered).total_seconds() / 86400 <= lead + 1
    due = {
        order_id
        for order_id, order in orders.items()
        if datetime.fromisoformat(order["expected_at"].replace("Z", "+00:00")).timestamp() * 1000 < end
    }
    assert due <= delivered
    assert any(line["under_ordered"] for order in orders.values() for line in order["lines"])


def test_reference_snapshots_come_first_and_daily():
    _, events = run(SimulationConfig(seed=2, stores=3, products=40, days=3))
    kinds = [event.event_type for event in events[:43]]
    assert kinds == ["store"] * 3 + ["product"] * 40
    assert Counter(e.event_type for e in events)["product"] == 40 * 3
    opening = [json.loads(e.payload) for e in events[43:46]]
    assert [(d["event_type"], d["count_type"], len(d["lines"])) for d in opening] == [
        ("stock_count", "full", 40)
    ] * 3
    assert all(json.loads(e.payload)["store_id"] is None for e in events if e.event_type == "product")
    assert {e.partition_key for e in events if e.event_type == "product"} == {"catalog"}


def test_big_counts_are_split_under_the_record_limit():
    _, events = run(SimulationConfig(seed=2, stores=1, products=2500, days=0.01))
    counts = [json.loads(e.payload) for e in events if e.event_type == "stock_count"]
    assert [len(d["lines"]) for d in counts] == [1000, 1000, 500]
    assert max(len(e.payload) for e in events) < 100_000


class FakeClock:
    """Wall clock for live mode: `sleep` advances it, so a live run is instant and repeatable."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.sleeps = 0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def test_live_mode_follows_the_clock_and_rate():
    start = datetime(2025, 6, 4, 17, 0, tzinfo=UTC).timestamp()
    clock = FakeClock(start)
    config = SimulationConfig(seed=9, stores=5, products=60, mode=LIVE, rate=10, duration_seconds=300)
    simulation = Simulation(config, clock=clock.time, sleep=clock.sleep)
    events = list(simulation)
    sales = [e for e in events if e.event_type == "sale"]
    assert len(sales) == pytest.approx(10 * 300, rel=0.1)
    assert all(start * 1000 <= e.event_time_ms <= (start + 300) * 1000 for e in events)
    assert clock.sleeps == pytest.approx(300 / config.tick_seconds, abs=2)


def test_live_mode_stops_on_request_and_sends_held_late_events():
    clock = FakeClock(datetime(2025, 6, 4, 17, 0, tzinfo=UTC).timestamp())
    config = SimulationConfig(
        seed=9, stores=5, products=60, mode=LIVE, rate=50, bad_rate=0.5, bad_classes=("late_event",)
    )
    simulation = Simulation(config, clock=clock.time, sleep=clock.sleep)
    events = []
    for event in simulation:
        events.append(event)
        if len(events) == 2000:
            simulation.stop()
    after_stop = events[2000:]
    # Generation ends within the tick; what follows is the held late events, released.
    assert sum(e.bad_class != "late_event" for e in after_stop) < 50
    assert sum(e.bad_class == "late_event" for e in after_stop) > 100
    late = [e for e in events if e.bad_class == "late_event"]
    assert len(late) == simulation.truth.bad_events_by_class["late_event"]


def test_invalid_settings_are_refused_with_the_setting_named():
    with pytest.raises(ValueError, match="bad_rate"):
        Simulation(SimulationConfig(bad_rate=1.5))
    with pytest.raises(ValueError, match="products"):
        SimulationConfig(products=3).validate()
    with pytest.raises(ValueError, match="bad classes"):
        SimulationConfig(bad_classes=("typo",)).validate()
    assert SimulationConfig(start_date=date(2024, 5, 1)).as_dict()["start_date"] == "2024-05-01"


def test_a_simulation_runs_once():
    simulation = Simulation(SimulationConfig(stores=1, products=20, days=0.01))
    list(simulation)
    with pytest.raises(RuntimeError, match="runs once"):
        iter(simulation)


def test_truth_file_is_written_as_documented(tmp_path):
    config = SimulationConfig(
        seed=4, stores=3, products=50, days=6, bad_rate=0.05, under_order_probability=0.6
    )
    simulation, _ = run(config)
    path = tmp_path / "truth.json"
    simulation.truth.write(path)
    truth = json.loads(path.read_text())
    assert truth["truth_version"] == 1
    assert truth["config"]["seed"] == 4
    assert set(truth) == {"truth_version", "config", "summary", "stockouts", "orders", "bad_events"}
    assert truth["summary"]["stockouts"] == len(truth["stockouts"]) > 0
    stockout = truth["stockouts"][0]
    assert set(stockout) == {"store_id", "sku", "empty_since", "restocked_at", "lost_units", "lost_lines"}
    assert defaultdict(int, truth["summary"]["bad_events_by_class"])["malformed_json"] > 0
