# The lake: bronze (raw, append-only) and silver (Delta tables). Both are versioned, encrypted
# at rest and closed to the public; old bronze moves to cheaper storage, then expires.
#
# On LocalStack the buckets are destroyed with their objects (force_destroy); on real AWS a
# bucket holding data makes `terraform destroy` stop, which is what protects the lake.

resource "aws_s3_bucket" "bronze" {
  bucket        = var.bronze_bucket
  force_destroy = var.use_localstack
}

resource "aws_s3_bucket_versioning" "bronze" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.bronze.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "bronze" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.bronze.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "bronze" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.bronze.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "bronze" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.bronze.id

  rule {
    id     = "old-bronze"
    status = "Enabled"

    # The whole bucket, checkpoints included: a checkpoint is rewritten far more often than this.
    filter {
      prefix = ""
    }

    transition {
      days          = var.bronze_infrequent_access_days
      storage_class = "STANDARD_IA"
    }

    expiration {
      days = var.bronze_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.bronze_noncurrent_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # Lifecycle rules on noncurrent versions need versioning switched on first.
  depends_on = [aws_s3_bucket_versioning.bronze]
}

resource "aws_s3_bucket" "silver" {
  bucket        = var.silver_bucket
  force_destroy = var.use_localstack
}

resource "aws_s3_bucket_versioning" "silver" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.silver.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "silver" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.silver.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "silver" {
  count = var.bucket_controls ? 1 : 0

  bucket = aws_s3_bucket.silver.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
