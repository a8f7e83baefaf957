# bdcwatch — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit integration stop lock clean benchmark

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

## demo: seed demo source data, start Airflow (SQLite, LocalExecutor) and a local SMTP sink
demo: $(STAMP)
	bash scripts/demo.sh start

## stop: stop the demo's Airflow processes and SMTP sink
stop:
	bash scripts/demo.sh stop

## test: lint, then every test tier (unit, DAG integrity, integration on SQLite and PostgreSQL)
test: $(STAMP) lint
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff check --select AIR dags

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit tests/dags

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

benchmark: $(STAMP)
	$(BIN)/python benchmarks/ecert_scale.py

## lock: re-resolve requirements.lock from pyproject.toml (run after changing dependencies)
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean: stop
	rm -rf var $(VENV)
