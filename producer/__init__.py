"""POS producer: a deterministic store simulator that streams its events to Kinesis.

It is the project's only data source and the ground truth its alerts are judged against.

Library use (the CLI, the Mage pipeline and the end-to-end tests all go through this):

    from producer import KinesisSink, Simulation, SimulationConfig
    simulation = Simulation(SimulationConfig(seed=7, days=2, bad_rate=0.02))
    summary = KinesisSink(settings).send(simulation)   # DeliverySummary: sent, retried, failed
    simulation.truth.write("truth.json")                # stockouts, orders, injected bad events

The event contract (fields, money, the Kinesis envelope) is documented in `lakehouse.contracts`,
where the pipeline reads it too.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names load on first use, so importing one name does not pay for boto3 and Faker.
_EXPORTS = {
    "Event": "producer.events",
    "DeliveryError": "producer.kinesis",
    "DeliverySummary": "producer.kinesis",
    "KinesisSink": "producer.kinesis",
    "NdjsonSink": "producer.ndjson",
    "Simulation": "producer.simulation",
    "SimulationConfig": "producer.simulation",
    "simulate": "producer.simulation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'producer' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
