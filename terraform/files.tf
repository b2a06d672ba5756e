# Files in and out of the lake.
#
# In: stores whose tills cannot stream upload their day's POS journal as CSV under
# landing/pos_csv/ in the bronze bucket; the bucket notifies the landing queue, which wakes the
# csv_to_bronze Mage pipeline (its every-minute schedule lists the prefix as a fallback, and is
# the only wake-up on the local stack: S3Proxy implements no bucket notifications).
#
# Out: after each gold load, each store's 14-day forecast as CSV and Parquet with a manifest in
# the exports bucket; each load writes a new as_of folder, and the lifecycle rule decides how
# long older ones are kept (S3Proxy implements no lifecycle rules either: locally they stay).

resource "aws_sqs_queue" "landing" {
  name = var.csv_landing_queue
}

# Only S3, on behalf of the bronze bucket, may send to the queue.
resource "aws_sqs_queue_policy" "landing" {
  queue_url = aws_sqs_queue.landing.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.landing.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_s3_bucket.bronze.arn } }
    }]
  })
}

resource "aws_s3_bucket_notification" "landing" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.bronze.id

  queue {
    id            = "pos-csv-landed"
    queue_arn     = aws_sqs_queue.landing.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "landing/pos_csv/"
  }

  depends_on = [aws_sqs_queue_policy.landing]
}

resource "aws_s3_bucket" "exports" {
  bucket        = var.exports_bucket
  force_destroy = var.use_localstack
}

resource "aws_s3_bucket_versioning" "exports" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.exports.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "exports" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.exports.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "exports" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.exports.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "exports" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.exports.id

  rule {
    id     = "old-exports"
    status = "Enabled"

    filter {
      prefix = "forecasts/"
    }

    transition {
      days          = var.exports_infrequent_access_days
      storage_class = "STANDARD_IA"
    }

    expiration {
      days = var.exports_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.bronze_noncurrent_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.exports]
}
