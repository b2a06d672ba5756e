"""`--csv-out DIR --csv-stores S002,S005`: chosen stores' sales as daily POS journals (CSV), not streamed.

Some stores' tills cannot stream: they upload their day's journal instead. The simulation is the
same run, so the truth still holds: the chosen stores' sales leave as CSV rows
(`lakehouse.contracts.pos_csv`), one file per store and store-local business day, and every
other event (their deliveries, orders and counts, and every other store's events) goes to the
stream as before.

Only what a journal can hold is diverted. A broken copy injected by `--bad-rate`
(malformed JSON, a wrong type, ...) is an event the stream carries, not a journal row (CSV has no
types to get wrong), so it still goes to the stream to be quarantined there; a resent copy
(`duplicate_event_id`) and a late one are real sales and go to the journal, the copy as the
same rows again.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lakehouse.contracts.events import SALE
from lakehouse.contracts.pos_csv import COLUMNS, ENCODING, file_name, sale_rows
from producer.bad_events import DUPLICATE_EVENT_ID, LATE_EVENT
from producer.events import Event

JOURNAL_CLASSES = (None, DUPLICATE_EVENT_ID, LATE_EVENT)


@dataclass
class JournalSummary:
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    sales: int = 0

    def line(self) -> str:
        return f"{self.sales:,} sales as {self.rows:,} CSV rows in {len(self.files)} files"


class CsvJournal:
    """Takes the chosen stores' sales out of an event stream and writes them as daily CSV files."""

    def __init__(self, directory: Path, zones: dict[str, ZoneInfo]) -> None:
        self.directory = directory
        self.zones = zones
        self._rows: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
        self.summary = JournalSummary()

    def divert(self, events: Iterable[Event]) -> Iterator[Event]:
        """Every event but the chosen stores' sales, which are kept for `write`."""
        for event in events:
            if (
                event.event_type == SALE
                and event.partition_key in self.zones
                and event.bad_class in JOURNAL_CLASSES
            ):
                self._keep(event)
            else:
                yield event

    def _keep(self, event: Event) -> None:
        sale = json.loads(event.payload)
        zone = self.zones[event.partition_key]
        day = datetime.fromtimestamp(event.event_time_ms / 1000, UTC).astimezone(zone).date().isoformat()
        rows = sale_rows(sale)
        self._rows[(event.partition_key, day)].extend(rows)
        self.summary.sales += 1
        self.summary.rows += len(rows)

    def write(self) -> JournalSummary:
        """One file per store and day, rows in the order the sales happened (late ones last)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for (store_id, day), rows in sorted(self._rows.items()):
            path = self.directory / file_name(store_id, day)
            with path.open("w", encoding=ENCODING, newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(COLUMNS)
                writer.writerows(rows)
            self.summary.files.append(path)
        return self.summary
