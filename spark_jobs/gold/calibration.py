"""Calibration of the stockout probability: a map gold fits on its own past probabilities.

Why: the probability of `stock_model` is too high where it is high (rows it gives 0.5-0.6 ran
out 41 % of the time on the alerts bench). Two causes were measured (README, alerts): the
category's dispersion prior, and a forecast that is high exactly where gold flags a risk, since
those rows are chosen by the forecast's own error. Neither moves by retuning the model, but both
show in gold's own record: what it said each day, and whether the book stock then reached 0
within the lead time. So each load fits a map from its raw probability to the share that ran
out, on the rows whose lead time has ended, and applies it to today's.

The map, reference version (gold's load runs exactly these functions; the history's bins come
from SQL, `sql/gold/load/calibration_history.sql`, held equal to `known_outcomes` and
`bin_outcomes` by tests/integration/test_gold_calibration_history.py):

- a row is a store-SKU day d with stock on hand and a raw probability p over lead time L; its
  outcome is known once the days d..d+L are complete (d + L before today); it happened when the
  book closing stock of one of those days is at most 0; only rows of the last
  `CALIBRATION_HISTORY_DAYS` days count, so the map follows the model's recent behaviour;
- the rows fall into `CALIBRATION_BINS` equal bins of p; a bin with n rows, mean prediction m
  and k stockouts gets `(k + PSEUDO_ROWS x m) / (n + PSEUDO_ROWS)`: `CALIBRATION_PSEUDO_ROWS`
  pseudo-rows that ran out exactly as predicted, so a bin of a few rows stays near "no change";
- pool adjacent violators (weights n + PSEUDO_ROWS) make the bins' values non-decreasing: a
  higher raw probability never maps below a lower one;
- a probability is mapped by linear interpolation between the knots (m, value), from (0, 0)
  below the first knot, and along the last segment above the last knot (at most 1): within
  the top bin, rows nearer 1 run out more often than its mean, as within every other bin;
- with fewer than `CALIBRATION_MIN_ROWS` known rows the map is the identity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

CALIBRATION_BINS = 10
CALIBRATION_PSEUDO_ROWS = 20.0
CALIBRATION_MIN_ROWS = 200
CALIBRATION_HISTORY_DAYS = 56


@dataclass(frozen=True)
class CalibrationBin:
    """What the known rows of one probability bin said and what happened to them."""

    index: int  # 0 .. CALIBRATION_BINS - 1, of p in [index / bins, (index + 1) / bins)
    rows: int
    predicted: float  # sum of the raw probabilities
    happened: int  # rows whose book stock reached 0 within the lead time


@dataclass(frozen=True)
class CalibrationMap:
    """Knots (raw, calibrated) of the map, with what it was fitted on; no knots is the identity."""

    fitted_on: date | None  # the day of the load that fitted it; None for the identity
    rows: int  # known rows it saw (fewer than CALIBRATION_MIN_ROWS: the identity)
    knots: tuple[tuple[float, float], ...] = ()

    @property
    def is_identity(self) -> bool:
        return not self.knots

    def apply(self, probability: float) -> float:
        """The calibrated probability of a raw one (module doc); the identity without knots."""
        if not self.knots:
            return probability
        points = ((0.0, 0.0), *self.knots)
        segment = next((i for i in range(1, len(points)) if probability <= points[i][0]), len(points) - 1)
        (low, below), (high, above) = points[segment - 1], points[segment]
        if high <= low:
            return above
        return min(max(below + (probability - low) * (above - below) / (high - low), 0.0), 1.0)


def bin_index(probability: float, bins: int = CALIBRATION_BINS) -> int:
    """The bin of a probability: floor(p x bins), 1.0 in the top bin."""
    return min(max(int(probability * bins), 0), bins - 1)


@dataclass(frozen=True)
class RecordedDay:
    """One store-SKU day as gold keeps it: its closing stock and, when it had stock, its raw probability."""

    day: date
    closing: int
    probability: float | None = None
    lead_time_days: int | None = None


def known_outcomes(
    days: Mapping[tuple[str, str], Sequence[RecordedDay]], as_of_day: date
) -> list[tuple[float, bool]]:
    """(raw probability, ran out) of every recorded row whose outcome is known at `as_of_day`.

    A row of day d with lead time L counts when d is within CALIBRATION_HISTORY_DAYS before
    `as_of_day` and d + L is before it; it ran out when a closing stock of d..d+L is at most 0.
    """
    first = as_of_day - timedelta(days=CALIBRATION_HISTORY_DAYS)
    found = []
    for recorded in days.values():
        empty = {item.day for item in recorded if item.closing <= 0}
        for item in recorded:
            if item.probability is None or item.lead_time_days is None or item.day < first:
                continue
            end = item.day + timedelta(days=item.lead_time_days)
            if end >= as_of_day:
                continue
            ran_out = any(item.day + timedelta(days=k) in empty for k in range(item.lead_time_days + 1))
            found.append((item.probability, ran_out))
    return found


def bin_outcomes(
    outcomes: Iterable[tuple[float, bool]], bins: int = CALIBRATION_BINS
) -> list[CalibrationBin]:
    """The non-empty bins of (probability, ran out) rows, lowest first."""
    rows, predicted, happened = [0] * bins, [0.0] * bins, [0] * bins
    for probability, ran_out in outcomes:
        index = bin_index(probability, bins)
        rows[index] += 1
        predicted[index] += probability
        happened[index] += int(ran_out)
    return [CalibrationBin(i, rows[i], predicted[i], happened[i]) for i in range(bins) if rows[i]]


def pool_adjacent_violators(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The non-decreasing sequence closest to `values` in weighted squared error."""
    blocks: list[list[float]] = []  # [weighted mean, weight, members]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            last = blocks.pop()
            merged = blocks[-1]
            total = merged[1] + last[1]
            merged[0] = (merged[0] * merged[1] + last[0] * last[1]) / total
            merged[1] = total
            merged[2] += last[2]
    found: list[float] = []
    for mean, _, members in blocks:
        found.extend([mean] * int(members))
    return found


def fit(
    bins: Sequence[CalibrationBin],
    fitted_on: date,
    pseudo_rows: float = CALIBRATION_PSEUDO_ROWS,
    min_rows: int = CALIBRATION_MIN_ROWS,
) -> CalibrationMap:
    """The map of the module doc from the known rows' bins; the identity below `min_rows` rows."""
    ordered = sorted((b for b in bins if b.rows > 0), key=lambda b: b.index)
    total = sum(b.rows for b in ordered)
    if total < min_rows:
        return CalibrationMap(None, total)
    means = [b.predicted / b.rows for b in ordered]
    shrunk = [
        (b.happened + pseudo_rows * m) / (b.rows + pseudo_rows) for b, m in zip(ordered, means, strict=True)
    ]
    values = pool_adjacent_violators(shrunk, [b.rows + pseudo_rows for b in ordered])
    return CalibrationMap(fitted_on, total, tuple(zip(means, values, strict=True)))
