"""Computing a frame once and cutting its plan: what the job does between its big steps.

Parsing builds large expressions (one per field and rule). A plain persist keeps the plan, and
the optimizer pushes later filters (and a MERGE re-plans its source) through those expressions,
substituting them into each other: planning then takes minutes and the driver's heap. A local
checkpoint stores the rows (memory, then disk) and leaves later plans a scan of them.
Filter or join the output of parse.parse_events / validate.apply_value_rules only after
`materialise`.
"""

from __future__ import annotations

from pyspark.sql import DataFrame


def materialise(frame: DataFrame) -> DataFrame:
    """Compute `frame` now, keep its rows, and return a frame whose plan starts from them."""
    return frame.localCheckpoint(eager=True)


def release(frame: DataFrame) -> None:
    """Free the rows `materialise` kept; PySpark has no public unpersist for a local checkpoint."""
    frame._jdf.queryExecution().analyzed().rdd().unpersist(False)
