# Every name here is the same variable as in .env (KINESIS_STREAM -> kinesis_stream, ...), and
# every default equals .env.example. `make tf-apply` feeds the values of .env (through
# lakehouse.config, so the environment wins as it does for the code) in a generated tfvars file;
# tests/unit/test_terraform_config.py checks the defaults against .env.example and the code.

variable "use_localstack" {
  description = "Send every AWS call to aws_endpoint_url (LocalStack); false means real AWS."
  type        = bool
  default     = true
}

variable "aws_region" {
  description = "AWS_REGION."
  type        = string
  default     = "us-east-1"
}

variable "aws_endpoint_url" {
  description = "AWS_ENDPOINT_URL: the LocalStack gateway, used when use_localstack is true."
  type        = string
  default     = "http://127.0.0.1:4566"
}

variable "aws_endpoint_url_s3" {
  description = "AWS_ENDPOINT_URL_S3: the lake's own S3 server (S3Proxy) when not empty; S3 goes to aws_endpoint_url otherwise."
  type        = string
  default     = "http://127.0.0.1:4580"
}

variable "bucket_controls" {
  description = "Versioning, encryption, public access blocks, lifecycle rules and notifications on the buckets: false on the stack's S3Proxy, which implements none of them."
  type        = bool
  default     = false
}

variable "kinesis_stream" {
  description = "KINESIS_STREAM: the POS event stream."
  type        = string
  default     = "pos-events"
}

variable "kinesis_shards" {
  description = "KINESIS_SHARDS: shard count of the stream (1 MB/s or 1,000 records/s of writes each)."
  type        = number
  default     = 2

  validation {
    condition     = var.kinesis_shards >= 1
    error_message = "kinesis_shards must be at least 1."
  }
}

variable "kinesis_retention_hours" {
  description = "How long the stream keeps records: how far back ingestion can replay after an outage."
  type        = number
  default     = 24

  validation {
    condition     = var.kinesis_retention_hours >= 24 && var.kinesis_retention_hours <= 8760
    error_message = "kinesis_retention_hours must be between 24 and 8760."
  }
}

variable "bronze_bucket" {
  description = "BRONZE_BUCKET: raw NDJSON as it came off the stream."
  type        = string
  default     = "stock-lakehouse-bronze"
}

variable "silver_bucket" {
  description = "SILVER_BUCKET: validated Delta tables and the quarantine."
  type        = string
  default     = "stock-lakehouse-silver"
}

variable "alerts_topic" {
  description = "ALERTS_TOPIC: SNS topic the gold stage publishes stockout alerts to."
  type        = string
  default     = "stock-alerts"
}

variable "alerts_queue" {
  description = "ALERTS_QUEUE: SQS queue subscribed to the alerts topic."
  type        = string
  default     = "stock-alerts-inbox"
}

variable "iam_name_prefix" {
  description = "AWS_IAM_NAME_PREFIX: prefix of the per-stage IAM role names (<prefix>-producer, -ingestion, -spark, -alerts), which the stages assume."
  type        = string
  default     = "stock-lakehouse"
}

variable "stage_role_principals" {
  description = "AWS_STAGE_ROLE_PRINCIPALS: IAM ARNs the stage roles trust; empty: the principal applying this configuration."
  type        = list(string)
  default     = []
}

variable "bronze_infrequent_access_days" {
  description = "Age in days at which bronze objects move to STANDARD_IA: silver has read them by then."
  type        = number
  default     = 30
}

variable "bronze_expiration_days" {
  description = "Age in days at which bronze objects are deleted: the replay window of the lake."
  type        = number
  default     = 365
}

variable "bronze_noncurrent_days" {
  description = "Days a replaced or deleted bronze object version is kept before it is removed."
  type        = number
  default     = 30
}

variable "csv_landing_queue" {
  description = "CSV_LANDING_QUEUE: SQS queue the bronze bucket notifies of POS CSVs landed under landing/pos_csv/."
  type        = string
  default     = "stock-lakehouse-landing"
}

variable "exports_bucket" {
  description = "EXPORTS_BUCKET: forecast files (CSV, Parquet, manifest) written after each gold load."
  type        = string
  default     = "stock-lakehouse-exports"
}

variable "exports_infrequent_access_days" {
  description = "Age in days at which forecast exports move to STANDARD_IA: read mostly on the day they are written."
  type        = number
  default     = 30
}

variable "exports_expiration_days" {
  description = "Age in days at which forecast exports are deleted: how far back a forecast can be compared with what happened."
  type        = number
  default     = 730
}
