# The POS event stream: the producer writes it, ingestion drains it into bronze.
resource "aws_kinesis_stream" "events" {
  name             = var.kinesis_stream
  shard_count      = var.kinesis_shards
  retention_period = var.kinesis_retention_hours

  stream_mode_details {
    stream_mode = "PROVISIONED"
  }
}
