"""Streaming sink: the stages already wrote bronze, silver and gold; this logs each pass."""

from mage_ai.streaming.sinks.base_python import BasePythonSink

if "streaming_sink" not in globals():
    from mage_ai.data_preparation.decorators import streaming_sink


@streaming_sink
class LogLivePass(BasePythonSink):
    def init_client(self):
        pass

    def batch_write(self, messages: list[dict]):
        for done in messages:
            gold = done["gold"] or {}
            alerts = {**gold["alerts"], "published": gold["published"]} if "alerts" in gold else {}
            self._print(
                f"live: bronze +{done['bronze_events']} events, silver +{done['silver_events']} events, "
                f"gold {gold.get('mode', 'not run')} as of {gold.get('as_of', '-')}, "
                f"alerts {alerts}, {done['seconds']} s {done['stage_seconds']}; "
                f"skipped {done['skipped'] or 'nothing'}"
            )
