# Terraform for the cloud resources in terraform/; included by the Makefile.
#
# Terraform's registry is unreachable from the project's machines, but the Go module proxy is
# not, and Terraform and its AWS provider are Go programs. `make terraform-offline` builds the
# pinned provider (and Terraform itself when none is on PATH) into a local filesystem mirror in
# .cache/terraform, once; `terraform init` then installs from that mirror and nowhere else.
# Variables come from .env through lakehouse.config, written to a tfvars file outside git.

TF_VERSION := 1.11.4
TF_AWS_PROVIDER_VERSION := 6.47.1
# The provider's module path has no /v6 suffix, so the proxy serves its releases only as
# pseudo-versions of v1: this one is commit 5f2286d6d836 (2026-06-02), version/VERSION 6.47.1.
TF_AWS_PROVIDER_MODULE := github.com/hashicorp/terraform-provider-aws@v1.60.1-0.20260602190131-5f2286d6d836
TF_PLATFORM ?= linux_amd64

TF_CACHE := $(CURDIR)/.cache/terraform
TF_MIRROR := $(TF_CACHE)/providers
TF_PROVIDER := $(TF_MIRROR)/registry.terraform.io/hashicorp/aws/$(TF_AWS_PROVIDER_VERSION)/$(TF_PLATFORM)/terraform-provider-aws_v$(TF_AWS_PROVIDER_VERSION)
TF_RC := $(TF_CACHE)/terraformrc
TF_VARS := $(TF_CACHE)/lakehouse.tfvars.json
# terraform on PATH, else the one built here.
TERRAFORM ?= $(or $(shell command -v terraform 2>/dev/null),$(TF_CACHE)/bin/terraform)
TF = TF_CLI_CONFIG_FILE=$(TF_RC) CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 $(TERRAFORM) -chdir=terraform
# Go's module and build caches stay in .cache (ignored by git, kept by make clean); GOTOOLCHAIN
# lets an older Go fetch the toolchain the provider's go.mod asks for, from the same proxy.
GO_ENV = GOPATH=$(CURDIR)/.cache/go GOCACHE=$(CURDIR)/.cache/go/build GOFLAGS=-modcacherw GOTOOLCHAIN=auto

.PHONY: terraform-offline tf-init tf-vars tf-plan tf-apply tf-destroy tf-validate tf-fmt

terraform-offline: $(TF_PROVIDER) $(TF_RC) $(filter $(TF_CACHE)/%,$(TERRAFORM)) ## build the Terraform AWS provider mirror from the Go module proxy (once)
	@echo "terraform mirror ready: $(TERRAFORM), hashicorp/aws $(TF_AWS_PROVIDER_VERSION)"

$(TF_PROVIDER):
	@command -v go >/dev/null || { echo "error: Go is needed to build the Terraform AWS provider; install it (https://go.dev/dl)"; exit 1; }
	@echo "building terraform-provider-aws $(TF_AWS_PROVIDER_VERSION) from the Go module proxy, once"
	@echo "  (about 30 min and 4 GB of memory on 2 cores; 6 GB of Go caches in .cache/go)"
	@mkdir -p $(TF_CACHE)/gobin $(@D)
	@$(GO_ENV) GOBIN=$(TF_CACHE)/gobin nice -n 19 go install -trimpath \
		-ldflags "-s -w -X github.com/hashicorp/terraform-provider-aws/version.ProviderVersion=$(TF_AWS_PROVIDER_VERSION)" \
		$(TF_AWS_PROVIDER_MODULE)
	@mv $(TF_CACHE)/gobin/terraform-provider-aws $@

# Terraform's go.mod has replace directives, which `go install pkg@version` refuses: download
# the module, then build inside it.
$(TF_CACHE)/bin/terraform:
	@command -v go >/dev/null || { echo "error: Go is needed to build Terraform; install it (https://go.dev/dl)"; exit 1; }
	@echo "building terraform $(TF_VERSION) from the Go module proxy (none on PATH), once"
	@mkdir -p $(@D)
	@source=$$($(GO_ENV) go mod download -json github.com/hashicorp/terraform@v$(TF_VERSION) \
		| sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p') && \
		cd "$$source" && $(GO_ENV) nice -n 19 go build -trimpath -ldflags "-s -w" -o $@.partial . && mv $@.partial $@

# Only the mirror, never the registry; no calls to HashiCorp's version checkpoint either.
$(TF_RC): terraform/terraform.mk
	@mkdir -p $(@D)
	@printf '%s\n' 'disable_checkpoint = true' 'provider_installation {' '  filesystem_mirror {' \
		'    path    = "$(TF_MIRROR)"' '    include = ["registry.terraform.io/hashicorp/*"]' '  }' '}' > $@

tf-init: terraform-offline ## terraform init from the local mirror
	@$(TF) init -input=false

tf-vars: $(VENV)/.installed .env
	@$(PY) -m lakehouse.resources tfvars $(TF_VARS)

tf-plan: tf-init tf-vars ## terraform plan with the values of .env
	@$(TF) plan -input=false -var-file=$(TF_VARS)

tf-apply: tf-init tf-vars ## create the stream, buckets, topic, queue and IAM roles with Terraform
	@$(TF) apply -input=false -auto-approve -var-file=$(TF_VARS)

tf-destroy: tf-init tf-vars ## destroy what tf-apply created (on LocalStack, buckets go with their objects)
	@$(TF) destroy -input=false -auto-approve -var-file=$(TF_VARS)

tf-validate: tf-init ## terraform validate and fmt -check
	@$(TF) validate
	@$(TF) fmt -check -diff

tf-fmt: ## terraform fmt on terraform/
	@$(TF) fmt
