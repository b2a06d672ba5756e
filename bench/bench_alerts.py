"""Alert scoring: gold's alerts against the producer's ground truth, and against a fixed rule.

A 60-day simulation (BENCH_ALERTS_DAYS) is replayed day by day through the stock model
(`evaluation.scoring.replay`); the first BENCH_ALERTS_WARMUP_DAYS are history only. A
true stockout counts once its order deadline (one lead time before the shelf went empty)
falls after the warm-up. The fixed rule alerts when a day closes below a fixed safety stock;
it is scored at several thresholds over the same days and the same book stock.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

from bench import figure
from evaluation import scoring
from lakehouse.config import Settings
from producer.simulation import Simulation, SimulationConfig

DAYS = int(os.environ.get("BENCH_ALERTS_DAYS", "60"))
WARMUP_DAYS = int(os.environ.get("BENCH_ALERTS_WARMUP_DAYS", "14"))
STORES = int(os.environ.get("BENCH_ALERTS_STORES", "10"))
PRODUCTS = int(os.environ.get("BENCH_ALERTS_PRODUCTS", "200"))
FIXED_THRESHOLDS = (2, 5, 10, 20)


def run(settings: Settings) -> list[dict]:
    config = SimulationConfig(seed=60, stores=STORES, products=PRODUCTS, days=DAYS)
    simulation = Simulation(config)
    began = time.perf_counter()
    movements = scoring.accepted_movements(simulation)
    simulated = time.perf_counter() - began
    lead_times = {product.sku: product.lead_time_days for product in simulation.catalog.products}
    first_day = config.start_date
    first_scored_day = first_day + timedelta(days=WARMUP_DAYS)
    last_day = first_day + timedelta(days=DAYS - 1)

    began = time.perf_counter()
    replayed = scoring.replay(movements, lead_times, first_day, first_scored_day, last_day, settings.gold)
    replay_seconds = time.perf_counter() - began

    first_deadline = datetime.combine(first_scored_day + timedelta(days=1), datetime.min.time())
    stockouts = [
        stockout
        for stockout in scoring.stockouts_of(simulation.truth)
        if stockout.empty_since - timedelta(days=lead_times[stockout.sku]) >= first_deadline
    ]

    def lead_time(sku: str) -> int:
        return lead_times[sku]

    model_score = scoring.score(replayed.alerts, stockouts, lead_time)
    figures = [
        figure("store-SKUs replayed", len(movements), "series"),
        figure("days scored", DAYS - WARMUP_DAYS, "days"),
        figure("true stockouts scored", model_score.stockouts, "stockouts"),
        figure("model alerts (predictive)", model_score.alerts, "alerts"),
        figure(
            "model caught (alert open one lead time before)", model_score.caught_share * 100, "%", ">= 95"
        ),
        figure("model precision (alert followed by a stockout)", model_score.precision * 100, "%", ">= 80"),
    ]
    for threshold in FIXED_THRESHOLDS:
        fixed = scoring.score(scoring.threshold_windows(replayed.closings, threshold), stockouts, lead_time)
        figures += [
            figure(f"fixed rule < {threshold} units caught", fixed.caught_share * 100, "%"),
            figure(f"fixed rule < {threshold} units precision", fixed.precision * 100, "%"),
        ]
    figures += [
        figure("simulation and parsing time", simulated, "s"),
        figure("replay time (stock model per store-SKU-day)", replay_seconds, "s"),
    ]
    return figures
