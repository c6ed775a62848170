# Broadsheet: one command to run the platform, one to test it.
#
#   make run        install what is missing, then start Kafka, the database, SMTP capture and
#                   every service; Ctrl-C stops it all
#   make test       install, then run the whole test suite
#
# Everything is installed by this file on a fresh machine: uv (pinned, with pip), the Python
# workspace (uv.lock), Kafka's jars (Maven, cached in .cache/) and, for the browser tests,
# Debian's Chromium (apt-get, when running as root).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
# uv from PATH if there is one; otherwise the copy `make uv` installs with pip.
UV := $(or $(shell command -v uv 2>/dev/null),$(PYTHON) -m uv)
RUN := $(UV) run --frozen

# Never let uv fetch a Python build from outside the package registries.
export UV_PYTHON_DOWNLOADS := never

PYTEST_ARGS ?=
# Names of benchmarks to run, e.g. `make bench BENCH=notifications` (default: all).
BENCH ?=
UNIT_MARKERS := not integration and not e2e and not browser
TYPED_SOURCES := shared/src tools/devstack/src tools/importer/src tools/admin/src tools/bench $(wildcard services/*/src)

.PHONY: help install uv deps jars browsers browser-tools run test test-unit test-faults lint format proof bench bench-tools bench-wordpress bench-db clean clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

install: deps jars browsers browser-tools ## everything the tests need (idempotent, fast when done)

uv: ## uv itself, pinned, when missing
	@$(UV) --version >/dev/null 2>&1 || { \
	  echo "Installing uv $(UV_VERSION) with pip"; \
	  $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; }

deps: uv ## the Python workspace, exactly as locked (dev tools included)
	$(UV) sync --frozen

jars: deps ## Kafka's jars from Maven Central, into .cache/kafka (once)
	$(RUN) python -m broadsheet_devstack.kafka ensure-jars

browsers: ## Debian's Chromium and ChromeDriver for the browser tests (as root, when missing)
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's chromium and chromium-driver"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver >/dev/null; \
	else \
	  echo "chromium/chromedriver missing and not root: browser tests will be skipped" \
	    "(install Debian's chromium and chromium-driver)"; \
	fi

browser-tools: ## Lighthouse and axe-core from npm, pinned in tools/browser (once)
	@if [ ! -f tools/browser/node_modules/.package-lock.json ] || \
	    [ tools/browser/package-lock.json -nt tools/browser/node_modules/.package-lock.json ]; then \
	  echo "Installing Lighthouse and axe-core (npm ci in tools/browser)"; \
	  npm ci --prefix tools/browser --no-audit --no-fund --ignore-scripts --loglevel=error; \
	fi

run: deps jars ## start the whole platform here (Ctrl-C stops it)
	$(RUN) broadsheet-run

# Two pytest workers (pytest-xdist), each with its own Kafka, database and SMTP capture: most
# integration tests wait on a broker, a process or a timer, so two share the two cores well.
# A file runs whole on one worker (its module fixtures start once).
TEST_WORKERS ?= 2

test: install ## the whole suite: unit, integration, e2e, browser and the fault scenarios (small)
	$(RUN) pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-faults: install ## only the fault scenarios, at their small size (tests/reliability)
	$(RUN) pytest -m fault $(PYTEST_ARGS)

test-unit: deps ## only the tests that start no server
	$(RUN) pytest -m "$(UNIT_MARKERS)" $(PYTEST_ARGS)

lint: deps ## ruff (lint and format check) and mypy, as CI would
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy $(TYPED_SOURCES)

format: deps ## rewrite code in the house style
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

# The open-loop load generator of the bench's method (tools/bench/method.py); pinned there too.
OHA_VERSION := 1.16.0
OHA := .cache/oha/$(OHA_VERSION)/bin/oha

bench-tools: ## nginx and wrk from Debian, oha from crates.io: the bench's load tools (once)
	@if command -v nginx >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's nginx-light and wrk"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    nginx-light wrk >/dev/null; \
	else \
	  echo "nginx/wrk missing and not root: install Debian's nginx-light and wrk"; \
	fi
	@if [ -x "$(OHA)" ]; then \
	  :; \
	elif command -v cargo >/dev/null 2>&1; then \
	  echo "Building oha $(OHA_VERSION) (once, a few minutes)"; \
	  CARGO_TARGET_DIR=.cache/oha/target cargo install oha --version $(OHA_VERSION) --locked \
	    --quiet --root .cache/oha/$(OHA_VERSION); \
	else \
	  echo "cargo missing: no oha, the benches on the shared method report their peers missing"; \
	fi

# The Rust build of the local database server, for benchmarks only (docs/database.md: 2-9x the
# Python server's speed, closer to what mongod does; tests and `make run` keep secantusd-py).
SECANTUS_RS_VERSION := 0.5.3-beta.196
SECANTUS_RS := .cache/secantusd-rs/$(SECANTUS_RS_VERSION)/bin/secantusd-rs

bench-db: ## secantusd-rs from crates.io for the benchmarks and the proof (cargo + cmake; ~4 min, once)
	@if [ -x "$(SECANTUS_RS)" ]; then \
	  :; \
	elif command -v cargo >/dev/null 2>&1 && command -v cmake >/dev/null 2>&1; then \
	  echo "Building secantusd-rs $(SECANTUS_RS_VERSION) (once, a few minutes)"; \
	  cargo install secantus-mdb --version $(SECANTUS_RS_VERSION) --locked --quiet \
	    --ignore-rust-version --root .cache/secantusd-rs/$(SECANTUS_RS_VERSION); \
	else \
	  echo "cargo or cmake missing: benchmarks and the proof will run on secantusd-py (slower)"; \
	fi

# The benchmarks and the proof at full size run on the Rust build of the database server when
# bench-db could build it: secantusd-py, the suite's server, is one Python process, and at full
# size it was the bottleneck (pegged at 100% of a core, 21 ms a lookup), not the platform.
FAST_DB := if [ -x "$(SECANTUS_RS)" ]; then export DEVSTACK_MONGO_SERVER="$(abspath $(SECANTUS_RS))"; fi;

# WordPress as a newsroom would run it from Debian (issue 16): a peer that cannot be installed
# is reported missing by its bench, so a failure here does not stop `make bench`.
WORDPRESS_PACKAGES := wordpress wordpress-theme-twentytwentythree php8.2-fpm php8.2-mysql mariadb-server

bench-wordpress: ## Debian's WordPress, php-fpm and MariaDB for the bench (as root, when missing)
	@if dpkg-query -W $(WORDPRESS_PACKAGES) >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's WordPress, php-fpm and MariaDB"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $(WORDPRESS_PACKAGES) >/dev/null || echo "WordPress could not be installed: reported missing"; \
	else \
	  echo "WordPress missing and not root: the bench reports it missing"; \
	fi

bench: deps jars bench-tools bench-db bench-wordpress ## the benchmarks (tools/bench), report in artifacts/bench/report.md
	@$(FAST_DB) $(RUN) python tools/bench/run.py $(BENCH)

# `make proof PROOF=poison` runs again the scenarios whose test names match (pytest -k) and
# keeps the other scenarios' rows of the last run.
PROOF ?=

proof: install bench-db ## the fault scenarios at full size (tests/reliability), report in artifacts/proof/report.md
	$(if $(PROOF),,rm -f artifacts/proof/results.jsonl)
	$(FAST_DB) BROADSHEET_PROOF=1 $(RUN) pytest -m fault --timeout=3600 $(if $(PROOF),-k "$(PROOF)") $(PYTEST_ARGS); \
	status=$$?; $(RUN) python tools/proof/report.py && exit $$status

clean: ## caches and test artifacts (keeps .data and the jar cache)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis artifacts
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +

clean-data: ## delete local data (.data: Kafka topics, database, captured mail, logs)
	rm -rf .data
