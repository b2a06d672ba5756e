"""Ranking and probability metrics for scored rows: average precision, recall at a precision,
Brier score and a reliability table, and precision and recall at an alert budget.

Plain Python on lists, small enough to check by hand (tests/unit/test_evaluation_metrics.py).
A higher score means "more likely to run out"; rows with equal scores are taken together, so
a scorer that ties many rows gets no credit for an order it does not give.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


def _steps(scores: Sequence[float], labels: Sequence[bool]) -> list[tuple[int, int]]:
    """(rows taken, positives among them) at each distinct score, highest first."""
    groups: dict[float, list[int]] = defaultdict(lambda: [0, 0])
    for score, label in zip(scores, labels, strict=True):
        group = groups[score]
        group[0] += 1
        group[1] += bool(label)
    steps, taken, hits = [], 0, 0
    for score in sorted(groups, reverse=True):
        taken += groups[score][0]
        hits += groups[score][1]
        steps.append((taken, hits))
    return steps


def average_precision(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Sum over thresholds of precision x the recall it adds (scikit-learn's step definition)."""
    positives = sum(map(bool, labels))
    if not positives:
        return 0.0
    total, recall_before = 0.0, 0.0
    for taken, hits in _steps(scores, labels):
        recall = hits / positives
        total += (recall - recall_before) * hits / taken
        recall_before = recall
    return total


def recall_at_precision(scores: Sequence[float], labels: Sequence[bool], precision: float) -> float:
    """The highest recall of a threshold whose precision is at least `precision`; 0 if none."""
    positives = sum(map(bool, labels))
    if not positives:
        return 0.0
    return max(
        (hits / positives for taken, hits in _steps(scores, labels) if hits / taken >= precision), default=0.0
    )


def precision_recall_curve(
    scores: Sequence[float], labels: Sequence[bool]
) -> list[tuple[float, float, float]]:
    """(threshold, precision, recall) at each distinct score, highest first."""
    positives = max(sum(map(bool, labels)), 1)
    thresholds = sorted(set(scores), reverse=True)
    return [
        (threshold, hits / taken, hits / positives)
        for threshold, (taken, hits) in zip(thresholds, _steps(scores, labels), strict=True)
    ]


def brier(probabilities: Sequence[float], labels: Sequence[bool]) -> float:
    """Mean squared difference between the probability and what happened (1 or 0)."""
    if not probabilities:
        return 0.0
    return sum((p - bool(y)) ** 2 for p, y in zip(probabilities, labels, strict=True)) / len(probabilities)


def climatology_brier(labels: Sequence[bool]) -> float:
    """The Brier score of always predicting the base rate: base x (1 - base)."""
    base = sum(map(bool, labels)) / len(labels) if labels else 0.0
    return base * (1 - base)


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    rows: int
    predicted: float  # mean probability in the bin
    observed: float  # share of rows that ran out

    @property
    def gap(self) -> float:
        return abs(self.predicted - self.observed)


def reliability(
    probabilities: Sequence[float], labels: Sequence[bool], bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width bins of predicted probability (the last one closed): rows, mean prediction, rate."""
    sums = [[0, 0.0, 0] for _ in range(bins)]
    for p, y in zip(probabilities, labels, strict=True):
        index = min(int(p * bins), bins - 1)
        sums[index][0] += 1
        sums[index][1] += p
        sums[index][2] += bool(y)
    return [
        ReliabilityBin(i / bins, (i + 1) / bins, n, total / n if n else math.nan, hits / n if n else math.nan)
        for i, (n, total, hits) in enumerate(sums)
    ]


def budget_alerts(
    groups: Sequence[Hashable],
    scores: Sequence[float],
    share: float,
    tie_break: Sequence[float] | None = None,
) -> list[bool]:
    """Which rows an alert budget of `share` of each group's rows (each day's) raises, best first.

    Ties are broken by `tie_break` (higher first), then by row order.
    """
    rows_of: dict[Hashable, list[int]] = defaultdict(list)
    for row, group in enumerate(groups):
        rows_of[group].append(row)
    alerted = [False] * len(scores)
    for rows in rows_of.values():
        budget = math.ceil(share * len(rows))
        rows.sort(key=lambda r: (-scores[r], -(tie_break[r] if tie_break is not None else 0.0), r))
        for row in rows[:budget]:
            alerted[row] = True
    return alerted
