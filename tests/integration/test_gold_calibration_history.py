"""Gold's calibration history in PostgreSQL against the plain-Python reference (calibration.py).

The load fits its map on bins that `sql/gold/load/calibration_history.sql` counts in gold; this
test fills a gold schema's snapshots with random store-SKU days (closing stock, raw probability,
lead time) and holds those bins, and the map fitted on them, to `known_outcomes`, `bin_outcomes`
and `fit` over the same days.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from psycopg2 import sql
from psycopg2.extras import execute_values

from lakehouse.config import Settings
from lakehouse.db import connect
from spark_jobs.gold import calibration as c
from spark_jobs.gold.load import fit_calibration
from spark_jobs.gold.sql_files import gold_sql
from tests.support.gold_schemas import migrated_gold

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 30)
NO_MOVES = (0, 0, 0)  # sold, received, count adjustment: each day is given by its closing alone
FIRST = AS_OF - timedelta(days=c.CALIBRATION_HISTORY_DAYS + 10)


@pytest.fixture(scope="module")
def gold_schema(postgres: Settings) -> Iterator[str]:
    with migrated_gold(postgres, "gold_t") as schema:
        yield schema


def _recorded_days() -> dict[tuple[str, str], list[c.RecordedDay]]:
    """Dense days of 3 stores x 40 SKUs from FIRST to AS_OF, sometimes empty, most with a probability."""
    rng = random.Random(27)
    days: dict[tuple[str, str], list[c.RecordedDay]] = {}
    for store in ("S001", "S002", "S003"):
        for item in range(40):
            lead, stock, recorded = rng.randint(1, 6), rng.randint(0, 12), []
            day = FIRST
            while day <= AS_OF:
                stock = (
                    max(stock - rng.randint(0, 3), 0) if rng.random() > 0.15 else stock + rng.randint(5, 15)
                )
                probability = round(rng.random() ** 2, 4) if stock > 0 and rng.random() > 0.1 else None
                recorded.append(
                    c.RecordedDay(day, stock, probability, lead if probability is not None else None)
                )
                day += timedelta(days=1)
            days[(store, f"SKU-{item:05d}")] = recorded
    return days


def _prediction(day: c.RecordedDay) -> tuple[float | None, int | None]:
    return day.probability, day.lead_time_days


def _fill(settings: Settings, schema: str, days: dict[tuple[str, str], list[c.RecordedDay]]) -> None:
    rows = [
        (store, sku, int(d.day.strftime("%Y%m%d")), d.closing, *NO_MOVES, d.closing, "ok", *_prediction(d))
        for (store, sku), recorded in days.items()
        for d in recorded
    ]
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("set local search_path to {}").format(sql.Identifier(schema)))
        cursor.execute("select ensure_dim_date(%s, %s)", (FIRST, AS_OF))
        execute_values(
            cursor,
            "insert into dim_store (store_id, store_name, region, timezone, snapshot_at) values %s",
            [(store, store, "west", "UTC", "2026-10-01T00:00Z") for store in ("S001", "S002", "S003")],
        )
        execute_values(
            cursor,
            "insert into fact_inventory_snapshot (store_id, sku, date_key, opening_on_hand, sold, received,"
            " count_adjustment, closing_on_hand, risk, stockout_probability_raw, stockout_lead_time_days)"
            " values %s",
            rows,
            page_size=5000,
        )


def test_the_history_bins_and_map_equal_the_python_reference(postgres: Settings, gold_schema: str):
    days = _recorded_days()
    _fill(postgres, gold_schema, days)
    for as_of in (AS_OF, AS_OF - timedelta(days=20), FIRST + timedelta(days=3)):
        expected_bins = c.bin_outcomes(c.known_outcomes(days, as_of))
        with connect(postgres) as connection, connection.cursor() as cursor:
            cursor.execute(
                gold_sql("load/calibration_history", gold_schema),
                {"as_of_day": as_of, "history_days": c.CALIBRATION_HISTORY_DAYS, "bins": c.CALIBRATION_BINS},
            )
            found = [c.CalibrationBin(int(b), int(n), float(p), int(k)) for b, n, p, k in cursor.fetchall()]
            fitted = fit_calibration(cursor, gold_schema, as_of)
        assert [(b.index, b.rows, b.happened) for b in found] == [
            (b.index, b.rows, b.happened) for b in expected_bins
        ], as_of
        assert [b.predicted for b in found] == pytest.approx([b.predicted for b in expected_bins]), as_of
        expected = c.fit(expected_bins, as_of)
        assert (fitted.fitted_on, fitted.rows) == (expected.fitted_on, expected.rows)
        assert [v for knot in fitted.knots for v in knot] == pytest.approx(
            [v for knot in expected.knots for v in knot]
        )
    # enough history at AS_OF to fit a real map, too little three days in
    assert not c.fit(c.bin_outcomes(c.known_outcomes(days, AS_OF)), AS_OF).is_identity
    assert c.fit(c.bin_outcomes(c.known_outcomes(days, FIRST + timedelta(days=3))), AS_OF).is_identity
