"""Kinesis to bronze: every event of the POS stream, raw and exactly once, as NDJSON objects on S3.

`drain()` reads each shard from its checkpoint, undoes the producer's aggregation, writes one
gzip NDJSON object per batch whose key is derived from the shard and sequence range, and only
then advances the shard's checkpoint (PostgreSQL, `ingestion.kinesis_checkpoints`). A crash
between the write and the checkpoint is recovered from the pending key recorded beforehand,
so a rerun neither loses nor duplicates a record. The Mage pipelines `kinesis_to_bronze`
(drain and exit) and `kinesis_to_bronze_stream` (continuous) are thin calls into this package.
"""
