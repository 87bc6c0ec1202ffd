# Customer Journey Platform — every target works from a fresh clone with only Python 3.11 and make.
SHELL := /bin/bash
# SIZE: the simulated shop. `make demo` defaults to small; `make dev` serves the shop the warehouse
# already holds unless SIZE is given (and refuses a SIZE that would mix two shops).
SIZE ?=
PORT ?= 3000
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export DAGSTER_DISABLE_TELEMETRY := 1
export PYTHONUNBUFFERED := 1

.PHONY: install demo dev test test-fast lint format bench clean dbt-debug

install:  ## uv (installed with pip when missing) + the locked environment
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode  # .pyc at install: every Dagster process (run worker, step) imports faster
	@mkdir -p $(DAGSTER_HOME) && cp -n orchestration/dagster.local.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true

demo: install  ## warehouse up -> simulated shop -> nightly_job -> summary (SIZE=tiny for a quick one)
	$(UV) run journey demo --size $(or $(SIZE),small)

dev: install  ## Dagster UI (`dg dev`) on 127.0.0.1:$PORT (3000), serving the shop the warehouse holds (SIZE= picks one)
	$(UV) run journey dev $(if $(SIZE),--size $(SIZE)) --port $(PORT)

test: install  ## the whole test suite (installs Chromium for the browser test when missing)
	$(UV) run pytest -q --durations=25

test-fast: install  ## everything but the end-to-end and browser tiers
	$(UV) run pytest -q -m "not e2e and not browser"

lint: install  ## ruff (lint + format check) and sqlfluff on the dbt models
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run journey lint-sql

format: install
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: install  ## benchmarks named in the issues; figures also in .local/bench/results.json
	$(UV) run python -m tests.bench.run

dbt-debug: install
	$(UV) run journey dbt debug

clean:  ## stop the embedded warehouse and remove local state (.local, .dagster_home, dbt target)
	-$(UV) run journey warehouse down
	rm -rf .local .dagster_home dbt_project/target dbt_project/logs
