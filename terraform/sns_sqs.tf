# Stockout alerts: the gold stage publishes to the topic; the queue subscribed to it keeps every
# alert for whoever reads them (the demo, the tests, a ticketing integration).

resource "aws_sns_topic" "alerts" {
  name = var.alerts_topic
}

resource "aws_sqs_queue" "alerts" {
  name = var.alerts_queue
}

# Only this topic may send to the queue.
resource "aws_sqs_queue_policy" "alerts" {
  queue_url = aws_sqs_queue.alerts.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.alerts.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.alerts.arn } }
    }]
  })
}

# Raw delivery: the queue holds the alert JSON itself, not an SNS envelope around it.
resource "aws_sns_topic_subscription" "alerts_to_queue" {
  topic_arn            = aws_sns_topic.alerts.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.alerts.arn
  raw_message_delivery = true

  depends_on = [aws_sqs_queue_policy.alerts]
}
