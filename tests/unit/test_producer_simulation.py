"""The simulator: reproducible, shaped as configured, and physically consistent.

Consistency is checked the way downstream will see it: replaying the event stream alone
(opening count, then sales, deliveries and cycle counts) must never go negative, must agree
with the simulator's own stock at the end, and must find exactly the stockouts in the truth.
Orders and promotions are checked the same way: a delivery never exceeds its purchase order
and comes when expected or is a recorded fault; sales use only announced promotions, announced
the notice ahead; the truth's daily rows add up to the events.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from lakehouse.contracts.events import EVENT_TYPES, load_schema
from producer import demand
from producer.simulation import DELIVERY_WINDOW_MS, LIVE, Simulation, SimulationConfig
from producer.truth import STOCKOUT_CAUSES

pytestmark = pytest.mark.unit


def run(config: SimulationConfig) -> tuple[Simulation, list]:
    simulation = Simulation(config)
    return simulation, list(simulation)


@pytest.fixture(scope="module")
def fortnight():
    """Two weeks, 6 stores, 300 SKUs: enough volume for the distribution checks (and faults)."""
    simulation, events = run(
        SimulationConfig(seed=11, stores=6, products=300, days=14, supplier_fault_share=0.2)
    )
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


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ms(text: str) -> int:
    return round(_utc(text).timestamp() * 1000)


def test_envelope_order_money_and_time_format(fortnight):
    _, events, documents = fortnight
    sale = next(d for d in documents if d["event_type"] == "sale")
    assert list(sale)[:5] == ["event_id", "event_type", "schema_version", "event_time", "store_id"]
    assert all(
        isinstance(line["unit_price"], str) and line["unit_price"].count(".") == 1 for line in sale["lines"]
    )
    start = documents[0]["event_time"]
    assert start == "2024-01-01T00:00:00.000Z"
    early = [event for event in events if event.event_time_ms < _ms(start)]
    assert early and {event.event_type for event in early} == {"promotion"}, (
        "only the opening's announcements of promotions already announced predate the run"
    )
    times = [event.event_time_ms for event in events if event.event_time_ms >= _ms(start)]
    assert times == sorted(times), "without bad input, events leave in simulated-time order"


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
    zones = _store_zones([json.loads(e.payload) for e in events if e.event_type == "store"])
    promoted_days = {
        (sku, promotion["first_day"])
        for promotion in simulation.truth.promotions
        for sku in promotion["skus"]
    }
    on, off = Counter(), Counter()
    weeks_on, weeks_off = Counter(), Counter()
    for event in events:
        if event.event_type != "sale":
            continue
        document = json.loads(event.payload)
        zone, _ = zones[document["store_id"]]
        monday = demand.monday_of(_utc(document["event_time"]).astimezone(zone).date()).isoformat()
        for line in document["lines"]:
            target = on if (line["sku"], monday) in promoted_days else off
            target[line["sku"]] += line["quantity"]
    skus = [product.sku for product in simulation.catalog.products]
    mondays = sorted({promotion["first_day"] for promotion in simulation.truth.promotions})[1:4]
    for monday in mondays:  # the three whole weeks of the run (it starts on a Monday, UTC)
        for sku in skus:
            (weeks_on if (sku, monday) in promoted_days else weeks_off)[sku] += 1
    both = [sku for sku in skus if weeks_on[sku] and weeks_off[sku]]
    rate_on = sum(on[sku] / weeks_on[sku] for sku in both)
    rate_off = sum(off[sku] / weeks_off[sku] for sku in both)
    # Lifts are 1.4x to 2.2x; stockouts on promoted SKUs (the forecast ignores promotions) eat some.
    assert rate_on / rate_off > 1.3


def test_promotions_are_announced_ahead_and_sales_use_only_them(fortnight):
    simulation, _, documents = fortnight
    notice = simulation.config.promotion_notice_days
    zones = _store_zones(documents)
    announced = {}
    for document in documents:
        if document["event_type"] != "promotion":
            continue
        assert document["promotion_id"] not in announced, "each promotion is announced once"
        first, last = date.fromisoformat(document["first_day"]), date.fromisoformat(document["last_day"])
        assert (first, last - first) == (demand.monday_of(first), timedelta(days=6))
        announced_on = _utc(document["event_time"]).date()
        assert first - announced_on >= timedelta(days=notice), document
        assert document["store_id"] is None and document["store_ids"] is None
        announced[document["promotion_id"]] = document
    promoted = Counter()
    for document in documents:
        if document["event_type"] != "sale":
            continue
        zone, _ = zones[document["store_id"]]
        day = _utc(document["event_time"]).astimezone(zone).date().isoformat()
        active = {
            sku: promotion
            for promotion in announced.values()
            if promotion["first_day"] <= day <= promotion["last_day"]
            for sku in promotion["skus"]
        }
        for line in document["lines"]:
            promotion = active.get(line["sku"])
            assert line["promotion_id"] == (promotion["promotion_id"] if promotion else None), (day, line)
            if promotion:
                price = round(float(line["unit_price"]) * 100) * line["quantity"]
                assert (
                    round(float(line["discount"]) * 100)
                    == (price * promotion["discount_percent"] + 50) // 100
                )
                promoted[line["promotion_id"]] += 1
    assert len(promoted) > 10
    assert [p["promotion_id"] for p in simulation.truth.promotions] == list(announced)


def test_the_notice_is_configurable():
    simulation, events = run(
        SimulationConfig(seed=3, stores=2, products=60, days=3, promotion_notice_days=20)
    )
    for event in events:
        if event.event_type == "promotion":
            document = json.loads(event.payload)
            first = date.fromisoformat(document["first_day"])
            assert first - _utc(document["event_time"]).date() >= timedelta(days=20)
    announced = {d["first_day"] for d in simulation.truth.promotions}
    assert max(announced) == "2024-01-22", "announced 20 days ahead: the run's opening covers three weeks"


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


def test_purchase_orders_are_the_orders_and_deliveries_never_exceed_them(fortnight):
    simulation, events, documents = fortnight
    orders = {order["order_id"]: order for order in simulation.truth.orders}
    purchase_orders = {d["order_id"]: d for d in documents if d["event_type"] == "purchase_order"}
    assert set(purchase_orders) == set(orders)
    lead_times = {product.sku: product.lead_time_days for product in simulation.catalog.products}
    for order_id, document in purchase_orders.items():
        order = orders[order_id]
        assert (document["store_id"], document["supplier_id"]) == (order["store_id"], order["supplier_id"])
        assert (document["ordered_at"], document["expected_at"]) == (
            order["ordered_at"],
            order["expected_at"],
        )
        assert document["event_time"] == document["ordered_at"] < document["expected_at"]
        assert [(line["sku"], line["quantity"]) for line in document["lines"]] == [
            (line["sku"], line["quantity"]) for line in order["lines"]
        ]
        days = (_utc(document["expected_at"]) - _utc(document["ordered_at"])).total_seconds() / 86400
        assert lead_times[document["lines"][0]["sku"]] - 1 <= days <= lead_times[document["lines"][0]["sku"]]

    faults = defaultdict(dict)
    for fault in simulation.truth.supplier_faults:
        faults[fault["order_id"]][fault["sku"]] = fault
    end = events[-1].event_time_ms
    delivered = set()
    kinds = Counter()
    for event, document in zip(events, documents, strict=True):
        if document["event_type"] != "delivery":
            continue
        order = purchase_orders[document["order_id"]]
        assert document["order_id"] not in delivered, "an order is received once"
        delivered.add(document["order_id"])
        assert document["store_id"] == order["store_id"]
        assert [line["sku"] for line in document["lines"]] == [line["sku"] for line in order["lines"]]
        expected = _ms(order["expected_at"])
        late = event.event_time_ms >= expected + DELIVERY_WINDOW_MS
        assert expected <= event.event_time_ms < expected + DELIVERY_WINDOW_MS + (86_400_000 if late else 0)
        for line, ordered in zip(document["lines"], order["lines"], strict=True):
            assert 1 <= line["quantity"] <= ordered["quantity"], "a delivery never exceeds its order"
            fault = faults[document["order_id"]].get(line["sku"])
            if line["quantity"] < ordered["quantity"]:
                assert fault and fault["kind"] == "short" and fault["received"] == line["quantity"]
                missing = ordered["quantity"] - line["quantity"]
                assert 0.1 * ordered["quantity"] - 0.5 <= missing <= 0.6 * ordered["quantity"] + 0.5
            if late:
                assert fault and fault["kind"] == "late", "a delivery after its window is a recorded fault"
                assert fault["received_at"] == document["event_time"]
            if fault:
                kinds[fault["kind"]] += 1
    assert kinds["short"] and kinds["late"]
    due = {order_id for order_id, order in orders.items() if _ms(order["expected_at"]) + 86_400_000 < end}
    assert due <= delivered
    assert any(line["under_ordered"] for order in orders.values() for line in order["lines"])


def test_daily_truth_adds_up_to_the_events(fortnight):
    simulation, _, documents = fortnight
    truth = simulation.truth
    rows = list(truth.daily_rows())
    stores, skus = simulation.config.stores, simulation.config.products
    assert len(rows) == len(truth.daily) * skus and len(truth.daily) >= stores * 12
    zones = _store_zones(documents)
    sold = Counter()
    for document in documents:
        if document["event_type"] == "sale":
            zone, _ = zones[document["store_id"]]
            day = _utc(document["event_time"]).astimezone(zone).date().isoformat()
            for line in document["lines"]:
                sold[(document["store_id"], line["sku"], day)] += line["quantity"]
    promotions = {p["promotion_id"]: p for p in truth.promotions}
    for row in rows:
        assert row["sold"] == sold[(row["store_id"], row["sku"], row["day"])]
        assert 0 <= row["sold"] <= row["true_demand"]
        assert row["closing_on_hand"] >= 0 and row["on_order"] >= 0
        if row["promotion_id"] is not None:
            promotion = promotions[row["promotion_id"]]
            assert (
                row["sku"] in promotion["skus"]
                and promotion["first_day"] <= row["day"] <= promotion["last_day"]
            )
    # The simulator's mean is the demand it then draws: totals agree within noise, per weekday too.
    wanted, expected = Counter(), Counter()
    for row in rows:
        weekday = date.fromisoformat(row["day"]).weekday()
        wanted[weekday] += row["true_demand"]
        expected[weekday] += row["expected_demand"]
    for weekday in expected:
        assert wanted[weekday] == pytest.approx(expected[weekday], rel=0.08), weekday
    promoted = [row for row in rows if row["promotion_id"]]
    lift = sum(r["true_demand"] for r in promoted) / sum(r["expected_demand"] for r in promoted)
    assert lift == pytest.approx(1.0, rel=0.1), "expected demand includes the promotion uplift"
    last = {(row["store_id"], row["sku"]): row for row in rows}
    for index, inventory in enumerate(simulation.inventories):
        store = simulation.catalog.stores[index].store_id
        for position, product in enumerate(simulation.catalog.products):
            assert last[(store, product.sku)]["on_order"] >= 0
            assert inventory.on_order[position] >= 0


def test_every_stockout_has_a_cause():
    simulation, _ = run(
        SimulationConfig(seed=8, stores=4, products=120, days=10, supplier_fault_share=0.3, promo_share=0.2)
    )
    causes = Counter(stockout.cause for stockout in simulation.truth.stockouts)
    assert set(causes) <= set(STOCKOUT_CAUSES)
    assert {"supplier_fault", "under_order", "promotion", "demand_noise"} <= set(causes), causes


def test_reference_snapshots_come_first_and_daily():
    _, events = run(SimulationConfig(seed=2, stores=3, products=40, days=3))
    kinds = [event.event_type for event in events[:43]]
    assert kinds == ["store"] * 3 + ["product"] * 40
    assert Counter(e.event_type for e in events)["product"] == 40 * 3
    counts = next(e.seq for e in events if e.event_type == "stock_count")
    assert counts > 43 and {e.event_type for e in events[43:counts]} == {"promotion"}, (
        "then the promotions already announced"
    )
    opening = [json.loads(e.payload) for e in events[counts : counts + 3]]
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
    announced = [e for e in events if e.event_type == "promotion"]
    assert announced and all(e.event_time_ms <= start * 1000 for e in announced)
    assert all(start * 1000 <= e.event_time_ms <= (start + 300) * 1000 for e in events if e not in announced)
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
    assert set(truth) == {
        "truth_version",
        "config",
        "summary",
        "stockouts",
        "orders",
        "supplier_faults",
        "promotions",
        "daily",
        "bad_events",
    }
    assert truth["summary"]["stockouts"] == len(truth["stockouts"]) > 0
    stockout = truth["stockouts"][0]
    assert set(stockout) == {
        "store_id",
        "sku",
        "empty_since",
        "restocked_at",
        "lost_units",
        "lost_lines",
        "cause",
    }
    assert truth["summary"]["daily_rows"] == len(truth["daily"]) == 3 * 50 * 5
    assert set(truth["daily"][0]) == {
        "store_id",
        "sku",
        "day",
        "expected_demand",
        "true_demand",
        "sold",
        "closing_on_hand",
        "on_order",
        "promotion_id",
    }
    assert truth["config"]["supplier_fault_share"] == 0.03 and truth["config"]["promotion_notice_days"] == 7
    assert defaultdict(int, truth["summary"]["bad_events_by_class"])["malformed_json"] > 0
