# stock-lakehouse: `make demo` to see it run, `make test` to check it. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
LS_VENV := .venv-localstack
DASH_VENV := .venv-dashboard
API_VENV := .venv-api
MLFLOW_VENV := .venv-mlflow
PY := $(VENV)/bin/python
STACK := $(PY) -m ops.stack
PYTEST_ARGS ?=

# Stamp files make `make setup` idempotent: a step reruns only when its inputs change.
SETUP_STAMPS := $(VENV)/.installed $(LS_VENV)/.installed $(DASH_VENV)/.installed $(API_VENV)/.installed \
                $(MLFLOW_VENV)/.installed \
                .cache/jars/.verified \
                .cache/localstack/.kinesis-mock

.PHONY: help setup system-packages up down status logs psql alerts clean live test test-unit test-integration \
        lint format bench demo dashboard api lake-sql mlflow held replay-held

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z_-]+:.*## / {printf "  make %-17s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: system-packages $(SETUP_STAMPS) .env ## install everything: virtualenvs, Spark jars, PostgreSQL, Chromium (idempotent)
	@$(PY) -m ops.demo_logins passwords
	@echo "setup complete"

# Debian packages, installed only when missing: PostgreSQL's server for the native stack and
# Chromium for the Mage UI test (Playwright drives it; it downloads no browser of its own).
system-packages: ## install Debian's postgresql and chromium if they are missing
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: requirements/main.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	@echo "installing the main environment into $(VENV) (requirements/main.lock; a few minutes the first time)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/main.lock
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

$(LS_VENV)/.installed: requirements/localstack.lock
	@echo "installing LocalStack into its own environment $(LS_VENV) (requirements/localstack.lock)"
	@test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	@$(LS_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/localstack.lock
	@touch $@

$(DASH_VENV)/.installed: requirements/dashboard.lock
	@echo "installing the dashboard into its own environment $(DASH_VENV) (requirements/dashboard.lock, hashes checked)"
	@test -x $(DASH_VENV)/bin/python || $(PYTHON) -m venv $(DASH_VENV)
	@$(DASH_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dashboard.lock
	@touch $@

$(API_VENV)/.installed: requirements/api.lock
	@echo "installing the read API into its own environment $(API_VENV) (requirements/api.lock, hashes checked)"
	@test -x $(API_VENV)/bin/python || $(PYTHON) -m venv $(API_VENV)
	@$(API_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/api.lock
	@touch $@

# MLflow in its own environment: no mlflow 3.x resolves beside mage-ai 0.9.80's pins in the main one.
$(MLFLOW_VENV)/.installed: requirements/mlflow.lock
	@echo "installing MLflow into its own environment $(MLFLOW_VENV) (requirements/mlflow.lock, hashes checked)"
	@test -x $(MLFLOW_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_VENV)
	@$(MLFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/mlflow.lock
	@touch $@

.cache/jars/.verified: lakehouse/jars.py $(VENV)/.installed
	@$(PY) -m lakehouse.jars
	@touch $@

# LocalStack installs kinesis-mock (an npm package) on first use; doing it here makes the
# first stream call fast and puts any registry problem in setup, where it is clear.
.cache/localstack/.kinesis-mock: $(LS_VENV)/.installed
	@mkdir -p .cache/localstack
	@FILESYSTEM_ROOT=$(CURDIR)/.cache/localstack OVERRIDE_IN_DOCKER=0 LOCALSTACK_TELEMETRY_DISABLED=1 \
		$(LS_VENV)/bin/python -m localstack.cli.lpm install kinesis-mock
	@touch $@

# .env (mode 0600, umask 077) from .env.example when missing; every empty password generated.
# Phony: it runs on every setup, so a secret added to .env.example later is filled in too.
.PHONY: .env
.env: $(VENV)/.installed
	@umask 077; $(PY) -m ops.stack.private_files

up: setup ## start the stack (Docker if an engine answers, else host processes) and create resources
	@$(STACK) up

down: ## stop what `make up` started
	@$(STACK) down

status: ## health of each component
	@$(STACK) status

logs: ## last lines of each component's log
	@$(STACK) logs

psql: ## psql shell on the gold database
	@psql "$$($(PY) -c 'from lakehouse.config import load_settings; print(load_settings().postgres_url)')"

gold-migrate: setup ## apply pending gold migrations (sql/gold/migrations); `make gold-migrate ARGS=--status` lists them
	@$(PY) -m spark_jobs.gold.migrate $(ARGS)

gold-user: setup ## a gold login: NAME=... ROLE=analyst|manager STORES=S001,S002 [ASK=1 reads the password]; NAME=... DROP=1 removes it
	@$(PY) -m ops.gold_users --name "$(NAME)" $(if $(DROP),--drop,--role "$(ROLE)" --stores "$(STORES)") $(if $(ASK),--ask-password)

alerts: ## the latest stock alerts from the SQS queue subscribed to the alerts topic
	@$(PY) -m spark_jobs.gold.alerts latest --limit $${LIMIT:-20}

clean: down ## stop the stack and delete its data (.run); keeps environments and caches
	rm -rf .run

test: setup ## the whole test suite: unit, integration and end-to-end, against real services
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup ## only the tests that need no service
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

lint: setup ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# pip-audit in its own environment, installed on first use (not by setup): requirements/tools.lock.
.venv-tools/.installed: requirements/tools.lock
	@test -x .venv-tools/bin/python || $(PYTHON) -m venv .venv-tools
	@.venv-tools/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/tools.lock
	@touch $@

.PHONY: audit
audit: setup .venv-tools/.installed ## vulnerability audit of both virtualenvs (pip-audit); prints the findings
	@$(PY) -m ops.audit

bench: setup ## benchmarks: figures and ratios as a table, and bench/results/latest.json
	$(PY) -m bench $(BENCH_ARGS)

# podman-compose in its own environment, installed on first use (not by setup): requirements/compose.lock.
.venv-compose/.installed: requirements/compose.lock
	@test -x .venv-compose/bin/python || $(PYTHON) -m venv .venv-compose
	@.venv-compose/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/compose.lock
	@touch $@

.PHONY: test-compose standins
standins: setup .venv-compose/.installed ## stand-in images for docker-compose.yml where Docker Hub is out of reach (podman; cached)
	@$(PY) -m ops.stack.standins

test-compose: setup .venv-compose/.installed ## docker-compose.yml for real with podman: stand-ins, make up, smoke, ports, volumes, make down
	$(PY) -m tests.support.compose_check

# Terraform targets (tf-apply, tf-destroy, ...) live beside the configuration.
-include terraform/terraform.mk

live: up ## run the pos_live pipeline in the foreground: Kinesis -> gold continuously (Ctrl-C stops it)
	@$(PY) -m ops.mage pos_live

lake-sql: setup ## Spark SQL over the lake: silver's tables and bronze by name (-e via ARGS='-e "select ..."')
	@$(PY) -m ops.lake_sql $(ARGS)

held: setup ## bronze objects silver holds back after a failed critical quality gate, and why
	@$(PY) -m spark_jobs.silver.held list $(ARGS)

replay-held: setup ## after a fix, run the held bronze objects through silver again (ARGS='--key <key>' for one)
	@$(PY) -m spark_jobs.silver.held replay $(ARGS)

dashboard: setup ## start only the dashboard (and PostgreSQL) on DASHBOARD_HOST:DASHBOARD_PORT, in the background
	@$(STACK) dashboard

api: setup ## start only the read API (and PostgreSQL) on API_HOST:API_PORT, in the background; docs at /docs
	@$(STACK) api

mlflow: setup ## log the spooled gold fits, then MLflow's UI on 127.0.0.1:MLFLOW_PORT (foreground; Ctrl-C stops it)
	@$(PY) -m lakehouse.model_tracking serve

demo: up ## backfill 30 days, stream live while Mage's schedules run bronze -> silver -> gold, summarise
	@$(PY) -m ops.demo

.PHONY: screenshots
screenshots: setup ## after make demo: every dashboard page as the demo logins into STACK_RUN_DIR/screenshots, two into docs/
	@$(PY) -m tests.support.dashboard_screenshots
