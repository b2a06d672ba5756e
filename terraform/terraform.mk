# Terraform for the cloud resources in terraform/; included by the Makefile.
#
# `terraform init` installs the AWS provider from one place, chosen by ops/stack/terraform.py
# and written to the CLI configuration before every init: the offline mirror in .cache/terraform
# when it is built, else the public registry when it answers (a laptop with internet).
# Terraform's registry is unreachable from the project's machines, but the Go module proxy is
# not, and the AWS provider is a Go program: `make terraform-offline` builds the pinned provider
# (and OpenTofu when no terraform is on PATH) into that mirror, once.
# Variables come from .env through lakehouse.config, written to a tfvars file outside git.

# Built only when neither terraform nor tofu is on PATH (see $(TF_CACHE)/bin/tofu below).
TOFU_VERSION := 1.12.6
TF_AWS_PROVIDER_VERSION := 6.47.1
# The provider's module path has no /v6 suffix, so the proxy serves its releases only as
# pseudo-versions of v1: this one is commit 5f2286d6d836 (2026-06-02), version/VERSION 6.47.1.
TF_AWS_PROVIDER_MODULE := github.com/hashicorp/terraform-provider-aws@v1.60.1-0.20260602190131-5f2286d6d836
TF_PLATFORM ?= linux_amd64

TF_CACHE := $(CURDIR)/.cache/terraform
TF_MIRROR := $(TF_CACHE)/providers
TF_PROVIDER_PATH := hashicorp/aws/$(TF_AWS_PROVIDER_VERSION)/$(TF_PLATFORM)/terraform-provider-aws_v$(TF_AWS_PROVIDER_VERSION)
TF_PROVIDER := $(TF_MIRROR)/registry.terraform.io/$(TF_PROVIDER_PATH)
# OpenTofu looks providers up under its own registry's name; it gets a hard link to the same file.
TOFU_PROVIDER := $(TF_MIRROR)/registry.opentofu.org/$(TF_PROVIDER_PATH)
TF_RC := $(TF_CACHE)/terraformrc
TF_VARS := $(TF_CACHE)/lakehouse.tfvars.json
# terraform on PATH, else tofu on PATH, else the tofu built here.
TERRAFORM ?= $(or $(shell command -v terraform 2>/dev/null),$(shell command -v tofu 2>/dev/null),$(TF_CACHE)/bin/tofu)
TF = TF_CLI_CONFIG_FILE=$(TF_RC) CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 $(TERRAFORM) -chdir=terraform
# Go's module and build caches stay in .cache (ignored by git, kept by make clean); GOTOOLCHAIN
# lets an older Go fetch the toolchain the provider's go.mod asks for, from the same proxy.
GO_ENV = GOPATH=$(CURDIR)/.cache/go GOCACHE=$(CURDIR)/.cache/go/build GOFLAGS=-modcacherw GOTOOLCHAIN=auto

.PHONY: terraform-offline tf-config tf-init tf-vars tf-plan tf-apply tf-destroy tf-validate tf-fmt

terraform-offline: $(filter $(TF_CACHE)/%,$(TERRAFORM)) $(TF_PROVIDER) $(TOFU_PROVIDER) ## build the Terraform AWS provider mirror from the Go module proxy (once)
	@echo "terraform mirror ready: $(TERRAFORM), hashicorp/aws $(TF_AWS_PROVIDER_VERSION)"

# Measured on 2 shared cores: 46 min (49 CPU-minutes), 9.3 GB peak memory (the link), 8 GB of
# build cache and 1.4 GB of modules, for a 905 MB binary. The caches serve only a rebuild, so
# they are freed once the binary is in the mirror (keep them with TF_KEEP_GO_CACHE=1).
$(TF_PROVIDER):
	@command -v go >/dev/null || { echo "error: Go is needed to build the Terraform AWS provider; install it (https://go.dev/dl)"; exit 1; }
	@echo "building terraform-provider-aws $(TF_AWS_PROVIDER_VERSION) from the Go module proxy, once"
	@echo "  (30 to 50 min on 2 cores, up to 9.5 GB of memory and 10 GB of disk while it builds)"
	@mkdir -p $(TF_CACHE)/gobin $(@D)
	@$(GO_ENV) GOBIN=$(TF_CACHE)/gobin nice -n 19 go install -trimpath \
		-ldflags "-s -w -X github.com/hashicorp/terraform-provider-aws/version.ProviderVersion=$(TF_AWS_PROVIDER_VERSION)" \
		$(TF_AWS_PROVIDER_MODULE)
	@mv $(TF_CACHE)/gobin/terraform-provider-aws $@
	@$(if $(TF_KEEP_GO_CACHE),true,$(GO_ENV) go clean -cache -modcache)

$(TOFU_PROVIDER): $(TF_PROVIDER)
	@mkdir -p $(@D)
	@ln -f $< $@

# With no terraform on the machine, build OpenTofu: Terraform's own module cannot be built from
# the proxy (its go.mod replaces backends with folders that the module zip leaves out). OpenTofu's
# go.mod has a replace directive too, which `go install pkg@version` refuses: download the module,
# then build inside it (version.dev=no: a release, not 1.12.6-dev).
$(TF_CACHE)/bin/tofu:
	@command -v go >/dev/null || { echo "error: Go is needed to build OpenTofu; install it (https://go.dev/dl)"; exit 1; }
	@echo "building OpenTofu $(TOFU_VERSION) from the Go module proxy (no terraform or tofu on PATH), once"
	@mkdir -p $(@D)
	@source=$$($(GO_ENV) go mod download -json github.com/opentofu/opentofu@v$(TOFU_VERSION) \
		| sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p') && \
		cd "$$source" && $(GO_ENV) nice -n 19 go build -trimpath \
		-ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o $@.partial ./cmd/tofu && \
		mv $@.partial $@

# The mirror when built, else the registry when it answers; no HashiCorp checkpoint calls.
tf-config: $(VENV)/.installed
	@$(PY) -m ops.stack.terraform cli-config $(TF_RC)

tf-init: tf-config ## terraform init: the AWS provider from the offline mirror when built, else the registry
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
