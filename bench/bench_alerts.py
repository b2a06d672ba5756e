"""Alert scoring: gold's stockout probability against an oracle, simpler rankings and the old rule.

For each seed (BENCH_ALERTS_SEEDS, default 60 61 62), a simulation of BENCH_ALERTS_STORES x
BENCH_ALERTS_PRODUCTS over BENCH_ALERTS_DAYS days runs in-process; what silver accepts of its
events is replayed through the plain-Python stock model at the close of each business day
(`evaluation.scoring.replay`), after BENCH_ALERTS_WARMUP_DAYS of history.

Rows: every store-SKU business day after the warm-up whose true closing stock is above zero and
whose lead time ends within the run (so its label is known).
Label: a stockout begins within the SKU's lead time after that close (the close of E - L is the
last review whose order arrives by day E). Scorers, on the same rows: gold's model (its
probability over the lead time), "lowest on hand first", days of cover (on hand / level), the
old fixed rule (gold's alert conditions before the probability: 1 or 0, ties broken by on hand),
and the oracle (true closing stock, true expected demand, orders as really delivered).

Figures, per seed and their mean: AP, recall at 50 % and 80 % precision, Brier score against
climatology and the largest reliability gap (probabilistic scorers); at alert budgets of 5, 10 and
20 % of each day's rows: precision, and recall of the stockouts at the last review and at any review
from E - L to E - 1, overall and by cause. The forecast table compares gold's forecast, the
seasonal naive one (same weekday a week before) and the oracle (expected demand) with the true
demand 1-7 and 8-14 days ahead: WAPE, MASE (over seasonal naive), bias, and on promotion days.

Each run is an MLflow run of the experiment alerts-bench (lakehouse.model_tracking): the model
version it scored and its sizes as parameters, the headline figures as metrics, every figure as
an artifact; `make mlflow` shows them beside the gold fits.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench import figure
from evaluation import boosted_forecast, metrics, scoring
from lakehouse.config import Settings
from lakehouse.model_tracking import RunRecord, TrackingError, log_run, store_dir, sync_spool
from producer.simulation import Simulation, SimulationConfig
from spark_jobs.gold.stock_model import MODEL_VERSION

DAYS = int(os.environ.get("BENCH_ALERTS_DAYS", "60"))
WARMUP_DAYS = int(os.environ.get("BENCH_ALERTS_WARMUP_DAYS", "14"))
STORES = int(os.environ.get("BENCH_ALERTS_STORES", "10"))
PRODUCTS = int(os.environ.get("BENCH_ALERTS_PRODUCTS", "200"))
SEEDS = tuple(int(s) for s in os.environ.get("BENCH_ALERTS_SEEDS", "60 61 62").split())
BUDGETS = (0.05, 0.10, 0.20)
SCORERS = ("model", "lowest_on_hand", "days_of_cover", "fixed_rule", "oracle")
PROBABILISTIC = ("model", "oracle")
CAUSES = ("promotion", "under_order", "supplier_fault", "demand_noise", "shrinkage")


def seed_figures(seed: int, settings: Settings) -> tuple[dict[str, float], dict]:
    """Every figure of one seed by name, and the material the threshold choice needs."""
    config = SimulationConfig(seed=seed, stores=STORES, products=PRODUCTS, days=DAYS)
    simulation = Simulation(config)
    zones = {store.store_id: ZoneInfo(store.timezone) for store in simulation.catalog.stores}
    closes = {store.store_id: store.closes_hour for store in simulation.catalog.stores}
    began = time.perf_counter()
    accepted = scoring.accepted_events(simulation, zones)
    simulated = time.perf_counter() - began
    lead_times = {p.sku: p.lead_time_days for p in simulation.catalog.products}
    categories = {p.sku: p.category for p in simulation.catalog.products}
    first_day = config.start_date + timedelta(days=1)  # the first whole business day everywhere
    first_scored = config.start_date + timedelta(days=WARMUP_DAYS)
    last_day = config.start_date + timedelta(days=DAYS - 2)

    def day_end(store_id: str, day: date) -> datetime:
        hour = closes[store_id]
        local = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=30)
        return local.replace(tzinfo=zones[store_id]).astimezone(UTC)

    began = time.perf_counter()
    replayed = scoring.replay(
        accepted, lead_times, categories, first_day, first_scored, last_day, settings.gold, day_end
    )
    replay_seconds = time.perf_counter() - began

    truth = simulation.truth
    days = scoring.truth_days(truth)
    receipts = scoring.true_receipts(truth, zones)
    dispersion = scoring.oracle_dispersion()
    starts: dict[tuple[str, str], list[tuple[date, str]]] = defaultdict(list)
    for stockout in truth.stockouts:
        day = scoring.local_date(stockout.empty_since_ms, zones[stockout.store_id])
        starts[(stockout.store_id, stockout.sku)].append((day, stockout.cause))

    rows = []
    for item in replayed:
        key = (item.store_id, item.sku, item.day)
        lead = lead_times[item.sku]
        if key not in days or days[key].closing_on_hand <= 0 or item.day + timedelta(days=lead) > last_day:
            continue  # no stock to lose, or the run ends before the label is known
        label = any(item.day < e <= item.day + timedelta(days=lead) for e, _ in starts[key[:2]])
        oracle = scoring.oracle_probability(
            days, receipts[key[:2]], *key, day_end(item.store_id, item.day), lead, dispersion
        )
        cover = item.on_hand / item.level if item.level > 0 else 1e9
        rows.append(
            {
                "key": key,
                "label": label,
                "model": item.probability,
                "lowest_on_hand": -item.on_hand,
                "days_of_cover": -cover,
                "fixed_rule": float(item.old_rule),
                "fixed_rule_tie": -item.on_hand,
                "oracle": oracle,
            }
        )
    labels = [row["label"] for row in rows]
    found: dict[str, float] = {
        "rows": len(rows),
        "positive share": sum(labels) / max(len(rows), 1),
        "simulation seconds": simulated,
        "replay seconds": replay_seconds,
    }
    for scorer in SCORERS:
        scores = [row[scorer] for row in rows]
        found[f"{scorer} AP"] = metrics.average_precision(scores, labels)
        found[f"{scorer} recall at 50% precision"] = metrics.recall_at_precision(scores, labels, 0.5)
        found[f"{scorer} recall at 80% precision"] = metrics.recall_at_precision(scores, labels, 0.8)
    for scorer in PROBABILISTIC:
        probabilities = [row[scorer] for row in rows]
        found[f"{scorer} Brier"] = metrics.brier(probabilities, labels)
        table = metrics.reliability(probabilities, labels)
        found[f"{scorer} largest reliability gap"] = max((b.gap for b in table if b.rows >= 50), default=0.0)
        for b in table:
            found[f"{scorer} bin {b.low:.1f} rows"] = b.rows
            found[f"{scorer} bin {b.low:.1f} predicted"] = b.predicted
            found[f"{scorer} bin {b.low:.1f} observed"] = b.observed
    found["climatology Brier"] = metrics.climatology_brier(labels)

    # stockouts each review could have prevented: E - L inside the scored days
    counted = [
        (store, sku, e, cause)
        for (store, sku), episodes in starts.items()
        for e, cause in episodes
        if first_scored <= e - timedelta(days=lead_times[sku]) and e <= last_day
    ]
    row_index = {row["key"]: i for i, row in enumerate(rows)}
    groups = [row["key"][2] for row in rows]
    for scorer in SCORERS:
        scores = [row[scorer] for row in rows]
        ties = [row["fixed_rule_tie"] for row in rows] if scorer == "fixed_rule" else None
        for budget in BUDGETS:
            alerted = metrics.budget_alerts(groups, scores, budget, ties)
            raised = sum(alerted)
            name = f"{scorer} at {budget:.0%} budget"
            found[f"{name} precision"] = sum(a and y for a, y in zip(alerted, labels, strict=True)) / max(
                raised, 1
            )
            for cause in (None, *CAUSES):
                chosen = [c for c in counted if cause is None or c[3] == cause]
                last = any_review = 0
                for store, sku, e, _ in chosen:
                    lead = lead_times[sku]
                    at_last = row_index.get((store, sku, e - timedelta(days=lead)))
                    last += at_last is not None and alerted[at_last]
                    any_review += any(
                        (i := row_index.get((store, sku, e - timedelta(days=k)))) is not None and alerted[i]
                        for k in range(1, lead + 1)
                    )
                suffix = "" if cause is None else f" ({cause})"
                found[f"{name} recall at last review{suffix}"] = last / max(len(chosen), 1)
                found[f"{name} recall at any review{suffix}"] = any_review / max(len(chosen), 1)
    found["stockouts counted"] = len(counted)
    for cause in CAUSES:
        found[f"stockouts counted ({cause})"] = sum(c[3] == cause for c in counted)

    recorded = {key: (day.sold, day.closing_on_hand > 0) for key, day in days.items()}
    by_sku = defaultdict(list)
    for promotion in accepted.promotions:
        by_sku[promotion[1]].append(promotion)

    def announced(store_id: str, sku: str, day: date) -> dict[date, float]:
        return scoring.promotion_discounts(by_sku[sku], store_id, sku, day_end(store_id, day))

    began = time.perf_counter()
    boosted = boosted_forecast.boosted_forecasts(replayed, recorded, announced, categories, first_scored)
    found["lightgbm seconds"] = time.perf_counter() - began
    found.update(forecast_figures(replayed, days, first_scored, last_day, boosted))
    curve = metrics.precision_recall_curve([row["model"] for row in rows], labels)
    return found, {"curve": curve}


def forecast_figures(replayed, days, first_scored: date, last_day: date, boosted) -> dict[str, float]:
    """WAPE, MASE, bias and promotion-day WAPE and bias of gold, LightGBM (`boosted`, see
    evaluation.boosted_forecast), seasonal naive and the oracle."""
    sums: dict[tuple[str, str, str], float] = defaultdict(float)
    for item in replayed:
        for h, units in enumerate(item.forecast[:14], start=1):
            target = item.day + timedelta(days=h)
            truth = days.get((item.store_id, item.sku, target))
            naive_day = target - timedelta(days=7 * ((h + 6) // 7))
            naive = days.get((item.store_id, item.sku, naive_day))
            if truth is None or naive is None or target > last_day:
                continue
            band = "1-7" if h <= 7 else "8-14"
            actual = truth.true_demand
            for name, value in (
                ("model", units),
                ("lightgbm", boosted[(item.store_id, item.sku, item.day, h)]),
                ("seasonal naive", naive.sold),
                ("oracle", truth.expected_demand),
            ):
                for scope in ("all", "promotion") if truth.on_promotion else ("all",):
                    sums[(name, band, scope + " abs")] += abs(value - actual)
                    sums[(name, band, scope + " error")] += value - actual
            sums[("", band, "all actual")] += actual
            if truth.on_promotion:
                sums[("", band, "promotion actual")] += actual
    found = {}
    for band in ("1-7", "8-14"):
        actual = max(sums[("", band, "all actual")], 1e-9)
        promo = max(sums[("", band, "promotion actual")], 1e-9)
        naive_abs = max(sums[("seasonal naive", band, "all abs")], 1e-9)
        for name in ("model", "lightgbm", "seasonal naive", "oracle"):
            found[f"forecast {band} {name} WAPE"] = sums[(name, band, "all abs")] / actual
            found[f"forecast {band} {name} MASE"] = sums[(name, band, "all abs")] / naive_abs
            found[f"forecast {band} {name} bias"] = sums[(name, band, "all error")] / actual
            found[f"forecast {band} {name} promotion WAPE"] = sums[(name, band, "promotion abs")] / promo
            found[f"forecast {band} {name} promotion bias"] = sums[(name, band, "promotion error")] / promo
    return found


def _mean(per_seed: list[dict[str, float]], name: str) -> float:
    return sum(found[name] for found in per_seed) / len(per_seed)


def run(settings: Settings) -> list[dict]:
    per_seed, curves = [], []
    for seed in SEEDS:
        found, extra = seed_figures(seed, settings)
        per_seed.append(found)
        curves.append(extra["curve"])
    mean = {name: _mean(per_seed, name) for name in per_seed[0]}
    rows: list[dict] = [
        figure("seeds", len(SEEDS), "runs"),
        figure("rows (store-SKU days in stock), per seed", mean["rows"], "rows"),
        figure("rows that run out within the lead time", mean["positive share"] * 100, "%"),
        figure("stockouts counted, per seed", mean["stockouts counted"], "stockouts"),
    ]
    oracle_ap, fixed_ap = mean["oracle AP"], mean["fixed_rule AP"]
    for scorer in SCORERS:
        target = None
        if scorer == "model":
            target = f">= {max(0.75 * oracle_ap, 3 * fixed_ap):.3f}"
        rows.append(figure(f"{scorer} AP", mean[f"{scorer} AP"], "", target))
        rows.append(figure(f"{scorer} AP / oracle AP", mean[f"{scorer} AP"] / max(oracle_ap, 1e-9), "x"))
    for seed, found in zip(SEEDS, per_seed, strict=True):
        rows.append(figure(f"seed {seed}: model AP (oracle {found['oracle AP']:.3f})", found["model AP"], ""))
    for scorer in SCORERS:
        for precision in (50, 80):
            name = f"{scorer} recall at {precision}% precision"
            target = ">= 40" if scorer == "model" and precision == 50 else None
            rows.append(figure(name, mean[name] * 100, "%", target))
    rows.append(figure("climatology Brier", mean["climatology Brier"], ""))
    for scorer in PROBABILISTIC:
        target = f"< {mean['climatology Brier']:.4f}" if scorer == "model" else None
        rows.append(figure(f"{scorer} Brier", mean[f"{scorer} Brier"], "", target))
        rows.append(
            figure(
                f"{scorer} largest reliability gap", mean[f"{scorer} largest reliability gap"], "", "<= 0.05"
            )
        )
        for b in range(10):
            low = f"{b / 10:.1f}"
            rows.append(
                figure(
                    f"{scorer} reliability {low}-{(b + 1) / 10:.1f}: observed "
                    f"(predicted {mean[f'{scorer} bin {low} predicted']:.3f}, "
                    f"{mean[f'{scorer} bin {low} rows']:.0f} rows)",
                    mean[f"{scorer} bin {low} observed"],
                    "",
                )
            )
    for budget in BUDGETS:
        for scorer in SCORERS:
            name = f"{scorer} at {budget:.0%} budget"
            target = None
            if scorer == "model" and budget == 0.10:
                target = f">= {2 * mean['fixed_rule at 10% budget recall at last review'] * 100:.1f}"
            rows.append(figure(f"{name} precision", mean[f"{name} precision"] * 100, "%"))
            rows.append(
                figure(
                    f"{name} recall at last review", mean[f"{name} recall at last review"] * 100, "%", target
                )
            )
            rows.append(
                figure(f"{name} recall at any review", mean[f"{name} recall at any review"] * 100, "%")
            )
    for cause in CAUSES:
        rows.append(
            figure(f"stockouts counted ({cause}), per seed", mean[f"stockouts counted ({cause})"], "")
        )
        for scorer in ("model", "fixed_rule", "oracle"):
            name = f"{scorer} at 10% budget recall at last review ({cause})"
            rows.append(figure(name, mean[name] * 100, "%"))
    for band in ("1-7", "8-14"):
        oracle_wape = mean[f"forecast {band} oracle WAPE"]
        for name in ("model", "lightgbm", "seasonal naive", "oracle"):
            prefix = f"forecast {band} {name}"
            wape_target = f"<= {1.12 * oracle_wape:.3f}" if (name, band) == ("model", "1-7") else None
            rows.append(figure(f"{prefix} WAPE", mean[f"{prefix} WAPE"], "", wape_target))
            rows.append(
                figure(f"{prefix} WAPE / oracle", mean[f"{prefix} WAPE"] / max(oracle_wape, 1e-9), "x")
            )
            mase_target = "<= 0.78" if (name, band) == ("model", "1-7") else None
            rows.append(figure(f"{prefix} MASE", mean[f"{prefix} MASE"], "", mase_target))
            rows.append(figure(f"{prefix} bias", mean[f"{prefix} bias"] * 100, "%"))
            rows.append(figure(f"{prefix} promotion-day WAPE", mean[f"{prefix} promotion WAPE"], ""))
            bias_target = "within +-10" if (name, band) == ("model", "1-7") else None
            rows.append(
                figure(
                    f"{prefix} promotion-day bias", mean[f"{prefix} promotion bias"] * 100, "%", bias_target
                )
            )
    # the precision-recall curve behind ALERT_MIN_PROBABILITY: precision and recall at thresholds
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        points = []
        for curve in curves:
            above = [(p, r) for t, p, r in curve if t >= threshold]
            points.append(above[-1] if above else (1.0, 0.0))
        precision = sum(p for p, _ in points) / len(points)
        recall = sum(r for _, r in points) / len(points)
        rows.append(figure(f"model probability >= {threshold:.1f}: precision", precision * 100, "%"))
        rows.append(figure(f"model probability >= {threshold:.1f}: recall", recall * 100, "%"))
    rows.append(figure("simulation and parsing time, per seed", mean["simulation seconds"], "s"))
    rows.append(figure("replay time, per seed", mean["replay seconds"], "s"))
    rows.append(
        figure("LightGBM forecast time (refits and predictions), per seed", mean["lightgbm seconds"], "s")
    )
    track(settings, mean, per_seed, rows)
    return rows


# MLflow metric name -> the bench's figure (mean of the seeds); MLflow names allow no "%".
TRACKED = {
    "model_AP": "model AP",
    "oracle_AP": "oracle AP",
    "fixed_rule_AP": "fixed_rule AP",
    "model_recall_at_50pct_precision": "model recall at 50% precision",
    "model_Brier": "model Brier",
    "climatology_Brier": "climatology Brier",
    "model_largest_reliability_gap": "model largest reliability gap",
    "model_recall_at_last_review_10pct_budget": "model at 10% budget recall at last review",
    "forecast_1-7_model_WAPE": "forecast 1-7 model WAPE",
    "forecast_1-7_oracle_WAPE": "forecast 1-7 oracle WAPE",
    "forecast_1-7_model_MASE": "forecast 1-7 model MASE",
    "forecast_1-7_model_bias": "forecast 1-7 model bias",
    "forecast_1-7_model_promotion_bias": "forecast 1-7 model promotion bias",
    "forecast_8-14_model_WAPE": "forecast 8-14 model WAPE",
    "forecast_8-14_model_MASE": "forecast 8-14 model MASE",
}


def track(
    settings: Settings, mean: dict[str, float], per_seed: list[dict[str, float]], rows: list[dict]
) -> None:
    """Log this run to MLflow (experiment alerts-bench) with the model version it scored, and the
    gold fits spooled since the last sync; a missing MLflow is reported, the figures still count."""
    gold = settings.gold
    metrics = {name: mean[figure_name] for name, figure_name in TRACKED.items()}
    metrics["model_AP_over_oracle"] = mean["model AP"] / max(mean["oracle AP"], 1e-9)
    metrics |= {
        f"seed_{seed}_model_AP": found["model AP"] for seed, found in zip(SEEDS, per_seed, strict=True)
    }
    record = RunRecord(
        experiment="alerts-bench",
        run_name=f"alerts bench {MODEL_VERSION} seeds {' '.join(map(str, SEEDS))}",
        params={
            "model_version": MODEL_VERSION,
            "seeds": " ".join(map(str, SEEDS)),
            "stores": STORES,
            "products": PRODUCTS,
            "days": DAYS,
            "warmup_days": WARMUP_DAYS,
            "ewma_alpha": gold.ewma_alpha,
            "demand_history_days": gold.demand_history_days,
            "service_level": gold.service_level,
            "alert_min_probability": gold.alert_min_probability,
        },
        metrics=metrics,
        tags={"model_version": MODEL_VERSION},
        artifacts={
            "figures.json": json.dumps(rows, indent=1),
            "per_seed.json": json.dumps(per_seed, indent=1),
        },
    )
    directory = store_dir(settings)
    try:
        run_id = log_run(record, directory)
        synced = sync_spool(directory)
    except TrackingError as error:
        print(f"alerts bench: not tracked in MLflow: {error}", file=sys.stderr)
        return
    print(f"alerts bench: MLflow run {run_id} (and {synced} spooled gold fit(s)) in {directory}", flush=True)
