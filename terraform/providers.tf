# LocalStack when use_localstack is true (the default), real AWS when false.

locals {
  # One endpoint for every service, as LocalStack serves them all on one port; null lets the
  # provider use AWS's own endpoints.
  endpoint = var.use_localstack ? var.aws_endpoint_url : null
  # The lake's buckets live on their own S3 server when AWS_ENDPOINT_URL_S3 names one.
  s3_endpoint = var.aws_endpoint_url_s3 != "" ? var.aws_endpoint_url_s3 : local.endpoint
}

provider "aws" {
  region = var.aws_region

  # LocalStack accepts any credentials; real AWS uses the default chain (environment, profile,
  # instance role), so no key is ever written into a variable.
  access_key = var.use_localstack ? "test" : null
  secret_key = var.use_localstack ? "test" : null

  skip_credentials_validation = var.use_localstack
  skip_metadata_api_check     = var.use_localstack
  skip_requesting_account_id  = var.use_localstack
  # LocalStack serves buckets under its one host name, not as virtual-host subdomains.
  s3_use_path_style = var.use_localstack

  endpoints {
    iam     = local.endpoint
    kinesis = local.endpoint
    s3      = local.s3_endpoint
    sns     = local.endpoint
    sqs     = local.endpoint
    sts     = local.endpoint
  }
}
