# What the code and an operator need from the applied configuration.

output "kinesis_stream_arn" {
  value = aws_kinesis_stream.events.arn
}

output "buckets" {
  value = {
    bronze  = aws_s3_bucket.bronze.id
    silver  = aws_s3_bucket.silver.id
    exports = aws_s3_bucket.exports.id
  }
}

output "alerts_topic_arn" {
  value = aws_sns_topic.alerts.arn
}

output "alerts_queue_url" {
  value = aws_sqs_queue.alerts.id
}

output "stage_role_arns" {
  value = {
    producer  = aws_iam_role.producer.arn
    ingestion = aws_iam_role.ingestion.arn
    spark     = aws_iam_role.spark.arn
    alerts    = aws_iam_role.alerts.arn
  }
}

output "landing_queue_url" {
  value = aws_sqs_queue.landing.id
}
