"""An idle stack stays idle: the CPU a private stack uses when nothing new arrives.

A private stack (bench/private_stack.py) with its cloud resources and Mage's every-minute
schedules runs for BENCH_IDLE_WARMUP_SECONDS (default 180: each scheduled pipeline runs at least
once and records what it saw), then the CPU seconds of every component's process tree (Mage's
pipeline runs and their Spark JVMs included) are read every second for BENCH_IDLE_SECONDS
(default 300). The figure is the average share of one core, per component and in all; its floor is zero,
so it is shown against the target (under 5 %). Before the schedules checked for new input
without Spark, an idle stack kept about 75 % of both cores busy.
"""

from __future__ import annotations

import os
import time

from bench import figure
from bench.private_stack import private_stack
from lakehouse.config import Settings
from lakehouse.resources import ensure_resources
from ops.stack import process

WARMUP_SECONDS = float(os.environ.get("BENCH_IDLE_WARMUP_SECONDS", "180"))
MEASURE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "300"))


def run(settings: Settings) -> list[dict]:
    with private_stack(settings) as stack:
        ensure_resources(stack.settings)
        time.sleep(WARMUP_SECONDS)
        meters = {}
        for component in stack.started:
            record = process.read_pid(component.pid_file)
            meters[component.name] = process.CpuMeter([record.pid] if record else [])
            meters[component.name].start()
        began = time.monotonic()
        while time.monotonic() - began < MEASURE_SECONDS:
            time.sleep(1)
            for meter in meters.values():
                meter.sample()
        elapsed = time.monotonic() - began
    figures = [
        figure(f"{name} idle CPU, share of one core", 100 * meter.seconds() / elapsed, "%")
        for name, meter in meters.items()
    ]
    total = 100 * sum(meter.seconds() for meter in meters.values()) / elapsed
    figures.append(figure(f"idle stack CPU over {elapsed:.0f} s, share of one core", total, "%", "< 5"))
    return figures
