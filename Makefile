# govmesh — the community-governance event mesh.
# `make run` and `make test` do all set-up themselves on a fresh machine.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT        := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV        := $(ROOT)/.venv
PY          := $(VENV)/bin/python
DATA        := $(ROOT)/.data
SERVICES    := intake dispatch mediation policing video-bridge console
PACKAGES    := contracts kit runtime $(addprefix services/,$(SERVICES)) bench/citygen

# An operator points the mesh at the city's own Kafka by setting KAFKA_BOOTSTRAP_SERVERS (and, for a
# secured cluster, KAFKA_SECURITY_PROTOCOL … and each service's user: docs/deploy.md); then no
# local broker is started or stopped. Locally: KAFKA_BROKERS=3 runs a three-node KRaft cluster,
# KAFKA_SECURITY=sasl_ssl makes it SASL_SSL/SCRAM with a user per service and the mesh's ACLs.
EXTERNAL_KAFKA := $(KAFKA_BOOTSTRAP_SERVERS)
KAFKA_PORT     ?= 9092
KAFKA_BROKERS  ?=
KAFKA_SECURITY ?=
# (empty: as the data dir's cluster was first made, else one node, plaintext)
KAFKA_ENV   := KAFKA_PORT=$(KAFKA_PORT) $(if $(KAFKA_BROKERS),KAFKA_BROKERS=$(KAFKA_BROKERS)) \
               $(if $(KAFKA_SECURITY),KAFKA_SECURITY=$(KAFKA_SECURITY))
KAFKA_ADDR  := $(or $(EXTERNAL_KAFKA),$(shell $(KAFKA_ENV) infra/kafka/kafka.sh bootstrap))
# The local cluster's client settings (each service's SCRAM user when secured), for the services;
# the admin's for govmesh-topics. Empty with an external cluster: the operator's environment counts.
ifeq ($(EXTERNAL_KAFKA),)
KAFKA_CLIENT_ENV = set -a && eval "$$($(KAFKA_ENV) infra/kafka/kafka.sh client-env $(1))" && set +a &&
else
KAFKA_CLIENT_ENV =
endif

# Cluster mode: `make run INSTANCES=2` runs every service but the console as 2 processes on
# PostgreSQL, behind HAProxy on the usual ports (infra/mesh.py).
INSTANCES ?= 1

# Staff sign-in: `make run OIDC=keycloak` starts the local Keycloak (development realm) and
# points every service at it; without it the services trust the local keyring only. For
# the province's own provider, set GOVMESH_OIDC_ISSUER instead (docs/security.md).
KEYCLOAK_PORT ?= 8180
OIDC          ?=
ifeq ($(OIDC),keycloak)
export GOVMESH_OIDC_ISSUER := http://127.0.0.1:$(KEYCLOAK_PORT)/realms/govmesh
RUN_OIDC := keycloak-up
else ifneq ($(OIDC),)
$(error OIDC must be empty or 'keycloak', not '$(OIDC)')
endif

# The test suite gets its own broker, PostgreSQL and Keycloak, beside a running `make run` mesh.
TEST_KAFKA_PORT    ?= 19092
TEST_PG_PORT       ?= 15432
TEST_KEYCLOAK_PORT ?= 18180
TEST_DATA          ?= $(DATA)/test
TEST_ENV := KAFKA_PORT=$(TEST_KAFKA_PORT) KAFKA_DATA_DIR=$(TEST_DATA)/kafka \
            PG_PORT=$(TEST_PG_PORT) PG_DATA_DIR=$(TEST_DATA)/postgres GOVMESH_TEST_DATA=$(TEST_DATA) \
            KEYCLOAK_PORT=$(TEST_KEYCLOAK_PORT) KEYCLOAK_DATA_DIR=$(TEST_DATA)/keycloak

# The secured three-broker cluster of tests/e2e/test_secured_cluster.py (its fixture stops it too).
TEST_CLUSTER_STOP := KAFKA_PORT=$$(($(TEST_KAFKA_PORT) + 20)) KAFKA_DATA_DIR=$(TEST_DATA)/kafka-cluster infra/kafka/kafka.sh stop

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: $(addsuffix /pyproject.toml,$(PACKAGES)) requirements-dev.txt constraints.txt
	@command -v python3 >/dev/null || { apt-get update && apt-get install -y python3 python3-venv; }
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(addprefix -e ,$(PACKAGES)) -r requirements-dev.txt -c constraints.txt
	@# Real protocol peers for the tests and benchmarks: sipp (GB/T 28181 devices), wrk (HTTP load).
	@command -v sipp >/dev/null && command -v wrk >/dev/null || apt-get install -y sip-tester wrk \
	  || { apt-get update && apt-get install -y sip-tester wrk; }
	@# The console's browser tests: Debian's Chromium (driven by Playwright by its path; never
	@# `playwright install`) and a CJK font so Chinese pages render (and screenshot) as glyphs.
	@test -x /usr/bin/chromium && { fc-list 2>/dev/null | grep -qiE 'Noto Sans CJK|WenQuanYi'; } \
	  || apt-get install -y chromium fonts-noto-cjk || { apt-get update && apt-get install -y chromium fonts-noto-cjk; }
	touch $@

.PHONY: install
install: $(VENV)/.installed ## Create the virtualenv and install every package (editable), versions from constraints.txt

.PHONY: lock
lock: ## Re-resolve every dependency in a scratch venv and write constraints.txt (after changing one)
	rm -rf $(DATA)/lock-venv && python3 -m venv $(DATA)/lock-venv
	$(DATA)/lock-venv/bin/pip install -q --upgrade pip
	$(DATA)/lock-venv/bin/pip install -q $(addprefix -e ,$(PACKAGES)) -r requirements-dev.txt
	{ echo "# Every install resolves the same versions: pip install ... -c constraints.txt (Makefile)."; \
	  echo "# Regenerate after changing a dependency: make lock (a fresh venv resolves, then this file is written)."; \
	  $(DATA)/lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e \|^govmesh'; } > constraints.txt
	rm -rf $(DATA)/lock-venv

.PHONY: kafka-up
kafka-up: ## Start the local Kafka broker (KRaft, jars from Maven Central) unless KAFKA_BOOTSTRAP_SERVERS is set
ifeq ($(EXTERNAL_KAFKA),)
	$(KAFKA_ENV) infra/kafka/kafka.sh start
else
	@echo "Using the existing Kafka at $(EXTERNAL_KAFKA)"
endif

.PHONY: kafka-down
kafka-down: ## Stop the local Kafka broker started by kafka-up
ifeq ($(EXTERNAL_KAFKA),)
	$(KAFKA_ENV) infra/kafka/kafka.sh stop
endif

.PHONY: postgres-up
postgres-up: ## Start a project PostgreSQL 15 (port 15432, one database per service)
	infra/postgres/postgres.sh start

.PHONY: postgres-down
postgres-down: ## Stop the project PostgreSQL
	infra/postgres/postgres.sh stop

.PHONY: keycloak-up
keycloak-up: ## Start the local Keycloak (port 8180, development realm `govmesh`; distribution from Maven Central)
	KEYCLOAK_PORT=$(KEYCLOAK_PORT) infra/keycloak/keycloak.sh start

.PHONY: keycloak-down
keycloak-down: ## Stop the local Keycloak
	KEYCLOAK_PORT=$(KEYCLOAK_PORT) infra/keycloak/keycloak.sh stop

.PHONY: topics
topics: install ## Create every topic of the contracts registry (idempotent); on a secured cluster also the ACLs
	$(call KAFKA_CLIENT_ENV,admin) $(VENV)/bin/govmesh-topics --bootstrap-servers $(KAFKA_ADDR) --wait 60 \
	  && if [ "$${KAFKA_SECURITY_PROTOCOL:-PLAINTEXT}" != PLAINTEXT ]; then \
	    $(VENV)/bin/govmesh-topics acls --bootstrap-servers $(KAFKA_ADDR) --wait 60; fi

# The generated city the mesh runs on: small by default, `make run CITY_SCALE=full` for Zhangye's size,
# with a small element registry (CITY_ELEMENTS rows; `make elements` imports the scale's full registry).
CITY_SCALE    ?= small
CITY_ELEMENTS ?= 10000
CITY          := $(DATA)/city-$(CITY_SCALE)

.PHONY: city
city: install ## Generate the city (grids, centres, workers, police rooms, cameras, studios, elements) into .data/city-<scale>
	@test -f $(CITY)/mediation.json || $(PY) -m citygen --out $(CITY) --scale $(CITY_SCALE) --elements $(CITY_ELEMENTS)

# Each service is seeded by its own CLI (never another service's database); --if-empty makes a
# second `make run` change nothing.
.PHONY: seed
seed: city ## Seed every service from the generated city (idempotent): grids, workers, elements, rooms, officers, devices, channels, studios, mediators
	@$(PY) -m dispatch.cli import-city $(CITY) --if-empty
	@$(PY) -m dispatch.cli import-elements $(CITY)/elements.csv --if-empty
	@$(PY) -m policing.cli import-city $(CITY) --if-empty
	@$(PY) -m video_bridge.cli import-grids $(CITY)/grids.geojson --if-empty
	@$(PY) -m video_bridge.cli import-channels $(CITY)/channels.json --if-empty
	@$(PY) -m mediation.entrypoints.seed $(CITY)/mediation.json --if-empty

.PHONY: elements
elements: city ## Generate and import the scale's whole element registry (full: 9.2 M rows, minutes; shows progress)
	@test -f $(CITY)/registry/elements.csv || $(PY) -m citygen --out $(CITY)/registry --scale $(CITY_SCALE)
	$(PY) -m dispatch.cli import-elements $(CITY)/registry/elements.csv

.PHONY: run
run: install kafka-up topics seed $(RUN_OIDC) ## Set up and run the mesh (SQLite per service, real Kafka, generated city), then print where it is; OIDC=keycloak: staff sign in with Keycloak
	@test -f $(DATA)/auth/keyring.json || $(VENV)/bin/govmesh-auth init  # one dev secret shared by the services
	@# grid imports over REST must stay within the city's outline (a city generated before outlines has none)
	outline=$(CITY)/outline.geojson; if [ -f $$outline ]; then export DISPATCH_CITY_OUTLINE_FILE=$$outline \
	  POLICING_CITY_OUTLINE_FILE=$$outline VIDEO_BRIDGE_CITY_OUTLINE_FILE=$$outline; fi; \
	$(call KAFKA_CLIENT_ENV,) INSTANCES=$(INSTANCES) KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_ADDR) DISPATCH_CITY_DATA_DIR=$(CITY) $(PY) infra/mesh.py start $(SERVICES)
	@if command -v prometheus >/dev/null; then infra/prometheus/prometheus.sh start && \
	  echo "Prometheus: http://127.0.0.1:9090 (dashboards as code: infra/grafana/)"; \
	else echo "Prometheus is not installed: make prometheus-up installs and starts it"; fi

# A day of the city's cases through the one door at DEMO_SPEED× real time (bounded; 127.0.0.1 only).
DEMO_SPEED ?= 60
.PHONY: demo
demo: install ## Play a day of the city's cases through intake at DEMO_SPEED× real time (60: 24 min); starts the mesh if it is down
	@$(PY) infra/mesh.py status intake >/dev/null 2>&1 || $(MAKE) --no-print-directory run
	CITY_SCALE=$(CITY_SCALE) DEMO_SPEED=$(DEMO_SPEED) $(PY) infra/demo.py $(DEMO_ARGS)

.PHONY: prometheus-up
prometheus-up: ## Install (Debian package) and start Prometheus scraping the services on 127.0.0.1:9090
	infra/prometheus/prometheus.sh start

.PHONY: prometheus-down
prometheus-down: ## Stop Prometheus
	infra/prometheus/prometheus.sh stop

.PHONY: dashboards
dashboards: install ## Regenerate the Grafana dashboards (infra/grafana/dashboards/*.json)
	$(PY) infra/grafana/dashboards.py write

.PHONY: status
status: ## Show which services run and are ready
	@$(PY) infra/mesh.py status $(SERVICES) || true
	@-$(KAFKA_ENV) infra/kafka/kafka.sh status
	@-KEYCLOAK_PORT=$(KEYCLOAK_PORT) infra/keycloak/keycloak.sh status

.PHONY: stop
stop: services-down kafka-down prometheus-down keycloak-down ## Stop exactly what `make run` started

.PHONY: services-down
services-down:
	@if [ -x $(PY) ]; then $(PY) infra/mesh.py stop $(SERVICES); fi

.PHONY: logs
logs: ## Follow the services' logs
	tail -F $(DATA)/logs/*.log

.PHONY: test
test: install ## Set up (test Kafka on 19092, PostgreSQL on 15432, Keycloak on 18180) and run every test
	@status=0; \
	$(TEST_ENV) infra/kafka/kafka.sh stop; $(TEST_ENV) infra/postgres/postgres.sh stop; \
	$(TEST_ENV) infra/keycloak/keycloak.sh stop; $(TEST_CLUSTER_STOP); rm -rf $(TEST_DATA); \
	$(TEST_ENV) infra/kafka/kafka.sh start && $(TEST_ENV) infra/postgres/postgres.sh start \
	  && $(TEST_ENV) infra/keycloak/keycloak.sh start \
	  && infra/prometheus/prometheus.sh install >/dev/null || status=$$?; \
	if [ $$status -eq 0 ]; then \
	  $(TEST_ENV) GOVMESH_TEST_KAFKA=127.0.0.1:$(TEST_KAFKA_PORT) \
	  GOVMESH_TEST_POSTGRES=postgresql://mesh:mesh@127.0.0.1:$(TEST_PG_PORT) \
	  GOVMESH_TEST_KEYCLOAK=http://127.0.0.1:$(TEST_KEYCLOAK_PORT) \
	  $(PY) -m pytest $(PYTEST_ARGS) || status=$$?; \
	fi; \
	$(TEST_ENV) infra/kafka/kafka.sh stop; $(TEST_ENV) infra/postgres/postgres.sh stop; \
	$(TEST_ENV) infra/keycloak/keycloak.sh stop; \
	$(TEST_CLUSTER_STOP); \
	exit $$status

.PHONY: screenshots
screenshots: install ## Regenerate the console's screenshots (docs/console/*.png) by its browser tests on test Kafka
	@status=0; $(TEST_ENV) infra/kafka/kafka.sh start || status=$$?; \
	if [ $$status -eq 0 ]; then \
	  $(TEST_ENV) GOVMESH_TEST_KAFKA=127.0.0.1:$(TEST_KAFKA_PORT) GOVMESH_SCREENSHOTS=$(ROOT)/docs/console \
	  $(PY) -m pytest tests/e2e/test_console_browser.py tests/e2e/test_console_screens.py -q || status=$$?; \
	fi; \
	$(TEST_ENV) infra/kafka/kafka.sh stop; exit $$status

.PHONY: bench
bench: install ## Benchmarks on the real parts (bounded, loopback): prints a table, writes bench/RESULTS.md
	$(PY) bench/run.py $(BENCH_ARGS)

.PHONY: chaos
chaos: install ## Faults under load, measured (bounded, loopback): prints a table, writes chaos/RESULTS.md; CHAOS_ARGS=--quick
	$(PY) chaos/run.py $(CHAOS_ARGS)

.PHONY: lint
lint: install ## ruff (lint + format check), mypy, import-linter
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

.PHONY: format
format: install ## Format the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: contracts
contracts: install ## Regenerate the committed JSON Schemas and the AsyncAPI document
	$(PY) -m govmesh_contracts.schemas write
	$(PY) -m govmesh_contracts.asyncapi write

.PHONY: clean
clean: stop ## Stop everything and delete the data folder (keeps the Kafka jar cache)
	find $(DATA) -mindepth 1 -maxdepth 1 ! -name lib -exec rm -rf {} +
