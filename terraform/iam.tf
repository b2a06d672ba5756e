# One role per pipeline stage, each allowed exactly what the stage does and nothing more:
#
#   producer   puts records on the stream
#   ingestion  reads the stream, writes bronze (reading back what it wrote, to skip duplicates;
#              its checkpoints are in PostgreSQL), takes the POS CSVs stores upload to landing/
#   spark      reads bronze, reads and writes silver (Delta rewrites and deletes its own files),
#              writes the forecast exports
#   alerts     publishes to the alerts topic
#
# Each stage's code assumes its role through STS (AWS_STAGE_ROLES, lakehouse/stage_credentials.py).
# lakehouse/resources.py builds the same documents for the boto3 bootstrap; the integration
# tests compare the two on LocalStack, and tests/unit/test_stage_policies.py evaluates every call
# each stage's code makes against them (LocalStack's free edition does not enforce IAM).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The caller's principal: an assumed role's session stands for its role (with its path).
data "aws_iam_session_context" "current" {
  arn = data.aws_caller_identity.current.arn
}

locals {
  # Who may assume a stage role: var.stage_role_principals (AWS_STAGE_ROLE_PRINCIPALS: an ECS task
  # role, a CI user), else the principal applying this configuration, not the whole account.
  stage_role_principals = length(var.stage_role_principals) > 0 ? var.stage_role_principals : [data.aws_iam_session_context.current.issuer_arn]

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = local.stage_role_principals }
      Action    = "sts:AssumeRole"
    }]
  })

  bronze_objects = "${aws_s3_bucket.bronze.arn}/*"
  silver_objects = "${aws_s3_bucket.silver.arn}/*"
}

resource "aws_iam_role" "producer" {
  name               = "${var.iam_name_prefix}-producer"
  assume_role_policy = local.assume_role_policy
}

resource "aws_iam_role_policy" "producer" {
  name = "put-records"
  role = aws_iam_role.producer.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "PutRecords"
      Effect   = "Allow"
      Action   = ["kinesis:PutRecords"]
      Resource = aws_kinesis_stream.events.arn
    }]
  })
}

resource "aws_iam_role" "ingestion" {
  name               = "${var.iam_name_prefix}-ingestion"
  assume_role_policy = local.assume_role_policy
}

resource "aws_iam_role_policy" "ingestion" {
  name = "stream-to-bronze"
  role = aws_iam_role.ingestion.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ReadStream"
        Effect = "Allow"
        Action = [
          "kinesis:DescribeStreamSummary",
          "kinesis:GetRecords",
          "kinesis:GetShardIterator",
          "kinesis:ListShards",
        ]
        Resource = aws_kinesis_stream.events.arn
      },
      {
        # GetObject and ListBucket make a HEAD of a missing key answer 404 rather than 403.
        Sid      = "WriteBronze"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = local.bronze_objects
      },
      {
        # csv_to_bronze asks whether the bucket notifies (S3Proxy cannot) before it lists.
        Sid      = "ListBronze"
        Effect   = "Allow"
        Action   = ["s3:GetBucketNotification", "s3:ListBucket"]
        Resource = aws_s3_bucket.bronze.arn
      },
      {
        # POS CSVs stores upload are moved out of landing/ once loaded or rejected.
        Sid      = "LandingFiles"
        Effect   = "Allow"
        Action   = "s3:DeleteObject"
        Resource = "${aws_s3_bucket.bronze.arn}/landing/*"
      },
      {
        Sid      = "LandingQueue"
        Effect   = "Allow"
        Action   = ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]
        Resource = aws_sqs_queue.landing.arn
      },
    ]
  })
}

resource "aws_iam_role" "spark" {
  name               = "${var.iam_name_prefix}-spark"
  assume_role_policy = local.assume_role_policy
}

resource "aws_iam_role_policy" "spark" {
  name = "bronze-to-silver"
  role = aws_iam_role.spark.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadBronzeObjects"
        Effect   = "Allow"
        Action   = "s3:GetObject"
        Resource = local.bronze_objects
      },
      {
        Sid      = "ListBronze"
        Effect   = "Allow"
        Action   = ["s3:GetBucketLocation", "s3:ListBucket"]
        Resource = aws_s3_bucket.bronze.arn
      },
      {
        Sid    = "WriteSilverObjects"
        Effect = "Allow"
        Action = [
          "s3:AbortMultipartUpload",
          "s3:DeleteObject",
          "s3:GetObject",
          "s3:PutObject",
        ]
        Resource = local.silver_objects
      },
      {
        Sid      = "ListSilver"
        Effect   = "Allow"
        Action   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
        Resource = aws_s3_bucket.silver.arn
      },
      {
        # The forecast files written after each gold load (spark_jobs/gold/exports.py).
        Sid      = "WriteExports"
        Effect   = "Allow"
        Action   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
        Resource = "${aws_s3_bucket.exports.arn}/*"
      },
      {
        Sid      = "ListExports"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = aws_s3_bucket.exports.arn
      },
    ]
  })
}

resource "aws_iam_role" "alerts" {
  name               = "${var.iam_name_prefix}-alerts"
  assume_role_policy = local.assume_role_policy
}

resource "aws_iam_role_policy" "alerts" {
  name = "publish-alerts"
  role = aws_iam_role.alerts.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "PublishAlerts"
      Effect   = "Allow"
      Action   = "sns:Publish"
      Resource = aws_sns_topic.alerts.arn
    }]
  })
}
