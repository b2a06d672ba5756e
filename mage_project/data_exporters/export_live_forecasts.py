"""pos_live's sink: after each pass that loaded gold, the forecast files (spark_jobs/gold/exports.py)."""

from mage_ai.streaming.sinks.base_python import BasePythonSink

from lakehouse.config import load_settings
from spark_jobs.gold.exports import ExportError, export_forecasts

if "streaming_sink" not in globals():
    from mage_ai.data_preparation.decorators import streaming_sink


@streaming_sink
class ExportLiveForecasts(BasePythonSink):
    def init_client(self):
        self.settings = load_settings()

    def batch_write(self, messages: list[dict]):
        for done in messages:
            gold = done.get("gold") or {}
            if "run_id" not in gold:
                continue
            try:
                summary = export_forecasts(self.settings, gold["schema"], gold["run_id"])
            except ExportError as error:
                self._print(f"exports: {error}")
                continue
            self._print(
                f"exports: {summary.rows} rows for {summary.stores} stores after gold load {gold['run_id']}"
            )
