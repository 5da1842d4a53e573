# scanflow-jupyter: `make lab` sets everything up and opens JupyterLab; `make test` sets up and runs every test.
# Each setup step leaves a stamp in .make/ and re-runs only when its inputs change.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python
export PATH := $(BIN):$(PATH)
STAMP := .make
PYTEST_ARGS ?=
# Debian packages the tests need (installed through apt when run as root): chromium drives the Galata tests;
# docker.io, debootstrap and docker-compose run the Docker tests (engine, offline base image, compose check).
APT_PACKAGES ?= chromium docker.io debootstrap docker-compose
# The offline base image of the Docker tests (built once from this machine's apt mirror).
BASE_IMAGE ?= scanflow/debian-python:bookworm
export SCANFLOW_BASE_IMAGE := $(BASE_IMAGE)
# pip inside builds reaches PyPI through this machine's proxy only with the machine's CA bundle.
export SCANFLOW_CA_BUNDLE ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
LAB_PORT ?= 8888
# Jupyter refuses to run as root unless told; these machines (and CI) are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

JS_SOURCES := $(shell find labextension -type f 2>/dev/null) tsconfig.json package.json

.PHONY: help setup lab test test-ts test-fast test-ui lint ci bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP):
	@mkdir -p $@

$(STAMP)/system: Makefile | $(STAMP)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "Install these Debian packages first:$$missing (sudo apt-get install$$missing)"; exit 1; fi; \
	fi
	@touch $@

$(STAMP)/venv: requirements.lock | $(STAMP)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	@touch $@

$(STAMP)/js: package.json yarn.lock .yarnrc.yml $(STAMP)/venv
	jlpm install --immutable
	@touch $@

# ui-tests/ is a package of its own (Galata, Playwright); Playwright must never download a browser here.
$(STAMP)/ui: ui-tests/package.json ui-tests/yarn.lock $(STAMP)/venv
	cd ui-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 jlpm install --immutable
	@touch $@

# The editable install runs the labextension build (hatch-jupyter-builder) and installs it into the venv.
$(STAMP)/package: pyproject.toml $(JS_SOURCES) $(STAMP)/js
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@jupyter labextension list 2>&1 | grep -q 'scanflow-jupyter v.*enabled.*OK' || \
	  { echo "the scanflow-jupyter labextension is not enabled"; jupyter labextension list; exit 1; }
	@touch $@

setup: $(STAMP)/system $(STAMP)/package $(STAMP)/ui ## Install everything (venv, npm packages, labextension build, ui-tests)

lab: setup ## Set up, then open JupyterLab on the quickstart notebook
	jupyter lab --port=$(LAB_PORT) $(ROOT_FLAG) notebooks/quickstart.ipynb

lint: setup ## ruff, ruff format --check, mypy
	ruff check scanflow_jupyter tests benchmarks
	ruff format --check scanflow_jupyter tests benchmarks
	mypy

# Start dockerd when no engine answers (root only), wait for it, then build the base image if it is missing.
.PHONY: docker-engine
docker-engine: $(STAMP)/system $(STAMP)/package ## Start the Docker engine if needed and build the offline base image
	@if ! docker info >/dev/null 2>&1; then \
	  if [ "$$(id -u)" != 0 ]; then echo "Start the Docker engine first (sudo dockerd &)"; exit 1; fi; \
	  echo "starting dockerd (log: $(STAMP)/dockerd.log)"; \
	  nohup dockerd >$(STAMP)/dockerd.log 2>&1 & \
	  for i in $$(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done; \
	  docker info >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -20 $(STAMP)/dockerd.log; exit 1; }; \
	fi
	@docker image inspect $(BASE_IMAGE) >/dev/null 2>&1 || $(BIN)/scanflow docker base-image --name $(BASE_IMAGE)

# With CI=true the suite gets a Docker engine of its own (.ci/private-dockerd: an empty data root in a temporary
# folder, removed afterwards), so every CI run builds every image from nothing; elsewhere it may reuse this
# machine's engine and images.
test: setup lint test-ts ## Set up, then run the whole suite (lint and TypeScript tests included)
ifeq ($(CI),true)
	.ci/private-dockerd $(MAKE) --no-print-directory docker-engine test-python
else
	$(MAKE) --no-print-directory docker-engine test-python
endif

# The Python suite (Docker, browser and fault-injection tests included) on the engine DOCKER_HOST names.
.PHONY: test-python
test-python:
	$(PY) -m pytest -n 2 --durations=30 $(PYTEST_ARGS)

test-ts: setup ## The TypeScript unit tests (vitest, no browser)
	jlpm test

test-fast: setup ## The quick tests (no slow, Docker, browser or fault-injection tests)
	$(PY) -m pytest -n 2 -m "not slow and not docker and not browser and not faults" $(PYTEST_ARGS)

test-ui: setup ## The browser tests only (the Galata suite in ui-tests/)
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

ci: test ## Exactly what CI runs (.ci/run calls make test)

bench: setup ## Print the benchmark figures
	$(PY) benchmarks/engine_overhead.py
	$(PY) benchmarks/checker_speed.py
	$(PY) benchmarks/checker_quality.py
	$(PY) benchmarks/labeling_speed/rerank.py
	$(PY) benchmarks/active_learning.py

# The peers benchmark's Metaflow lives in a venv of its own (pinned in benchmarks/peers/requirements.txt): never a
# dependency of the package.
PEERS_VENV := $(STAMP)/peers-venv
$(STAMP)/peers: benchmarks/peers/requirements.txt
	python3 -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --disable-pip-version-check -r benchmarks/peers/requirements.txt
	@touch $@

.PHONY: bench-peers
bench-peers: $(STAMP)/package $(STAMP)/peers ## Time scanflow against Metaflow, whole processes from a shell (tracked and not)
	nice -n 10 $(PY) benchmarks/peers/peers.py --metaflow $(CURDIR)/$(PEERS_VENV)/bin/python

.PHONY: bench-docker
bench-docker: setup docker-engine ## Print the Docker backend figures (cold build and run, warm re-run, per-step overhead)
	$(PY) benchmarks/docker_backend.py

.PHONY: bench-ui
bench-ui: setup ## Print the notebook latency, labeling key-press and sidebar/editor render figures (JupyterLab in Chromium)
	cd ui-tests && NODE_PATH=$(CURDIR)/ui-tests/node_modules jlpm playwright test \
	  --config ../benchmarks/notebook_latency/playwright.config.ts
	cd ui-tests && NODE_PATH=$(CURDIR)/ui-tests/node_modules jlpm playwright test \
	  --config ../benchmarks/labeling_speed/playwright.config.ts
	cd ui-tests && NODE_PATH=$(CURDIR)/ui-tests/node_modules jlpm playwright test \
	  --config ../benchmarks/editor_latency/playwright.config.ts

clean: ## Remove build outputs and stamps (keeps the venv and node_modules)
	rm -rf $(STAMP) lib scanflow_jupyter/labextension scanflow_jupyter/_version.py
