"""Streaming: drain the POS stream into bronze continuously; each pass's summary goes downstream."""

import time
from collections.abc import Callable

from mage_ai.streaming.sources.base_python import BasePythonSource

from ingestion.checkpoints import DrainLockedError
from ingestion.drain import drain
from lakehouse.config import load_settings

if "streaming_source" not in globals():
    from mage_ai.data_preparation.decorators import streaming_source


@streaming_source
class KinesisBronzeSource(BasePythonSource):
    def init_client(self):
        self.settings = load_settings()

    def batch_read(self, handler: Callable):
        # Seconds between passes once caught up: bronze freshness versus empty GetRecords calls.
        poll_seconds = self.settings.ingestion.stream_poll_seconds
        while True:
            try:
                summary = drain(self.settings)
            except DrainLockedError:
                # The every-minute batch run is draining; it will finish shortly.
                time.sleep(poll_seconds)
                continue
            if summary.events:
                handler([summary.as_dict()])
            else:
                time.sleep(poll_seconds)
