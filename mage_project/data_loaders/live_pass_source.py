"""Streaming: bronze, silver and gold pass after pass (spark_jobs/live.py); each pass goes downstream."""

from collections.abc import Callable

from mage_ai.streaming.sources.base_python import BasePythonSource

from lakehouse.config import load_settings
from spark_jobs.live import run_live
from spark_jobs.session import spark_session

if "streaming_source" not in globals():
    from mage_ai.data_preparation.decorators import streaming_source


@streaming_source
class LivePassSource(BasePythonSource):
    def init_client(self):
        self.settings = load_settings()
        self.spark = spark_session("pos-live", self.settings)

    def batch_read(self, handler: Callable):
        for done in run_live(self.spark, self.settings, self.settings.gold.schema):
            handler([done.as_dict()])
