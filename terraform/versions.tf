# Terraform and its one provider, pinned.
#
# The provider registry cannot be reached from the project's machines, so `make terraform-offline`
# builds this exact provider version from the Go module proxy into a local filesystem mirror
# (.cache/terraform/providers); `terraform.mk` holds the commit it is built from.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 6.47.1"
    }
  }
}
