"""`python -m producer --csv-out`: the chosen stores' sales leave as journals, the rest streams as before."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ingestion.csv_events import read_journal
from lakehouse.contracts.pos_csv import COLUMNS
from producer import Simulation, SimulationConfig
from producer.cli import main

pytestmark = pytest.mark.unit

ARGS = ["--days", "2", "--stores", "3", "--products", "30", "--seed", "11", "--bad-rate", "0.05", "--quiet"]


def _run(tmp_path: Path, name: str, *extra: str) -> list[dict | None]:
    output = tmp_path / f"{name}.ndjson"
    assert main([*ARGS, "--dry-run", "--output", str(output), *extra]) == 0
    events = []
    for raw in output.read_bytes().splitlines():
        try:
            events.append(json.loads(raw))
        except ValueError:
            events.append(None)  # an injected malformed_json event
    return events


def test_journal_stores_sales_leave_as_csv_and_everything_else_streams(tmp_path: Path):
    streamed = _run(tmp_path, "all")
    split = _run(tmp_path, "split", "--csv-out", str(tmp_path / "journals"), "--csv-stores", "S002")
    files = sorted((tmp_path / "journals").glob("pos_S002_*.csv"))
    assert files, "no journal written"

    def is_s002_sale(event) -> bool:
        return (
            isinstance(event, dict) and event.get("event_type") == "sale" and event.get("store_id") == "S002"
        )

    # Nothing else changed: every other event is streamed byte for byte as without --csv-out.
    assert [e for e in split if not is_s002_sale(e)] == [e for e in streamed if not is_s002_sale(e)]
    rows = []
    for path in files:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            assert tuple(next(reader)) == COLUMNS
            rows.extend(reader)
        read_journal(path.read_bytes())  # ingestion reads what the producer writes
    assert {row[1] for row in rows} == {"S002"}
    # The journals hold exactly the store's valid sales, resent copies as the same rows again;
    # the broken copies the bad-input injector made still stream, to be quarantined there.
    valid = [
        json.loads(event.payload)
        for event in Simulation(SimulationConfig(seed=11, stores=3, products=30, days=2, bad_rate=0.05))
        if event.event_type == "sale"
        and event.partition_key == "S002"
        and event.bad_class in (None, "late_event")
    ]
    expected = {
        (sale["basket_id"], str(line["line_number"])): (
            line["quantity"],
            line["unit_price"],
            line["discount"],
        )
        for sale in valid
        for line in sale["lines"]
    }
    journal = {(row[2], row[3]): (int(row[5]), row[6], row[7]) for row in rows}
    assert journal == expected
    assert len(rows) > len(journal)  # the resent copies
    left = [e for e in split if is_s002_sale(e)]
    assert len(left) < 0.2 * sum(1 for e in streamed if is_s002_sale(e))


def test_csv_stores_must_exist_and_come_with_a_folder(tmp_path: Path):
    with pytest.raises(SystemExit):
        main(
            [
                *ARGS,
                "--dry-run",
                "--output",
                str(tmp_path / "x"),
                "--csv-out",
                str(tmp_path),
                "--csv-stores",
                "S009",
            ]
        )
    with pytest.raises(SystemExit):
        main([*ARGS, "--dry-run", "--output", str(tmp_path / "x"), "--csv-stores", "S001"])
