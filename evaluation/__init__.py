"""Evaluation: how gold's alerts score against the producer's ground truth.

Not production code: the alerts benchmark and the tests use it, the pipeline never does, so it
may import every stage (the producer's simulation, gold's model) without pulling them into
each other.
"""
