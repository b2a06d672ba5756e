"""The scoring metrics on cases small enough to work out by hand."""

from __future__ import annotations

import math

import pytest

from evaluation import metrics

pytestmark = pytest.mark.unit


def test_average_precision_by_hand():
    # ranked: +, -, +, -: precision 1 at recall 1/2, 2/3 at recall 1: AP = 1/2 + 1/3
    assert metrics.average_precision([0.9, 0.8, 0.7, 0.1], [True, False, True, False]) == pytest.approx(5 / 6)
    assert metrics.average_precision([0.9, 0.8], [True, True]) == 1.0
    assert metrics.average_precision([0.5, 0.5], [False, False]) == 0.0


def test_ties_are_taken_together():
    # one group of four with two positives: precision 1/2 at recall 1
    assert metrics.average_precision([1, 1, 1, 1], [True, False, True, False]) == pytest.approx(0.5)


def test_recall_at_precision():
    scores, labels = [0.9, 0.8, 0.7, 0.6, 0.5], [True, False, True, True, False]
    # thresholds: 1/1 r 1/3; 1/2 r 1/3; 2/3 r 2/3; 3/4 r 1; 3/5 r 1
    assert metrics.recall_at_precision(scores, labels, 0.8) == pytest.approx(1 / 3)
    assert metrics.recall_at_precision(scores, labels, 0.5) == 1.0
    assert metrics.precision_recall_curve(scores, labels)[2] == pytest.approx((0.7, 2 / 3, 2 / 3))


def test_brier_and_climatology():
    assert metrics.brier([1.0, 0.0, 0.5], [True, False, True]) == pytest.approx(0.25 / 3)
    assert metrics.climatology_brier([True, False, False, False]) == pytest.approx(0.1875)


def test_reliability_bins():
    table = metrics.reliability([0.05, 0.15, 0.12, 1.0, 0.95], [False, True, False, True, True])
    assert table[0].rows == 1 and table[0].observed == 0.0
    assert (table[1].rows, table[1].predicted, table[1].observed) == (2, pytest.approx(0.135), 0.5)
    assert table[9].rows == 2 and table[9].predicted == pytest.approx(0.975) and table[9].observed == 1.0
    assert math.isnan(table[5].predicted)
    assert table[1].gap == pytest.approx(0.365)


def test_budget_alerts_per_day():
    days = ["d1"] * 4 + ["d2"] * 2
    scores = [0.1, 0.9, 0.5, 0.9, 0.2, 0.3]
    # 50 %: two of d1's four (0.9 and 0.9, the higher tie-break first), one of d2's two
    assert metrics.budget_alerts(days, scores, 0.5) == [False, True, False, True, False, True]
    assert metrics.budget_alerts(days, scores, 0.25, tie_break=[0, 1, 0, 2, 0, 0]) == [
        False, False, False, True, False, True,
    ]  # fmt: skip
