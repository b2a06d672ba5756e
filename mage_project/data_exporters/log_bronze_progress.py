"""Streaming sink: the bronze objects are already written by the source; this logs each pass."""

from mage_ai.streaming.sinks.base_python import BasePythonSink

if "streaming_sink" not in globals():
    from mage_ai.data_preparation.decorators import streaming_sink


@streaming_sink
class LogBronzeProgress(BasePythonSink):
    def init_client(self):
        pass

    def batch_write(self, messages: list[dict]):
        for summary in messages:
            self._print(
                f"bronze: {summary['events']} events in {summary['objects']} objects "
                f"from {summary['shards']} shards in {summary['seconds']:.1f} s"
            )
