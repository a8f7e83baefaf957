# bdcwatch — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
# The clock pass: the same tests with the process clock at 17:30 UTC today, when the
# Asia/Shanghai date is already tomorrow's, and at 03:30 UTC, when both agree.
CLOCK_TESTS := -m "unit or (clock and not dialect)"
TODAY_UTC := $(shell date -u +%F)

.PHONY: demo stop stack stack-stop test check lint types unit dialect deploy integration web screenshots clock system-packages lock clean benchmark

$(STAMP): requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	# --compile-bytecode: every Airflow process and task imports Airflow, GX and pandas, and
	# where PYTHONDONTWRITEBYTECODE is set nothing would ever cache their bytecode: each
	# import would compile the sources again (GX alone: ~4 s per process).
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

## demo: seed demo source data, start Airflow (SQLite, LocalExecutor) and a local SMTP sink
demo: $(STAMP)
	bash scripts/demo.sh start

## stop: stop the demo's Airflow processes and SMTP sink
stop:
	bash scripts/demo.sh stop

## stack: the production topology without Docker: PostgreSQL, CeleryExecutor on Redis, two workers (scripts/stack.sh)
stack: $(STAMP)
	bash scripts/stack.sh start

## stack-stop: stop what make stack started (its databases stay until the next start)
stack-stop:
	bash scripts/stack.sh stop

## check: the fast lane before each commit — lint, types, the unit tier on both cores
check: $(STAMP) lint types
	$(PYTEST) -q -m unit -n 2 tests

## test: what CI runs — lint, types, every tier on both cores, then the unit and clock tests again under a shifted clock
# (-n 2 --dist loadgroup: tests are independent; a module sharing one expensive thing — the
# production stack, the browser's api-server — is an xdist_group and stays on one worker)
XDIST := -n 2 --dist loadgroup
test: $(STAMP) system-packages lint types
	$(PYTEST) -q $(XDIST) tests
	$(MAKE) --no-print-directory clock

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff check --select AIR dags

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(PYTEST) -q -m unit tests

dialect: $(STAMP)
	$(PYTEST) -q -m dialect tests

deploy: $(STAMP)
	$(PYTEST) -q -m deploy tests

integration: $(STAMP)
	$(PYTEST) -q -m integration tests

## web: the operations UI — API and page tests through Airflow's app, browser tests in chromium
web: $(STAMP) system-packages
	$(PYTEST) -q -m web tests

## screenshots: the README's pictures of the operations UI, from the browser tests
screenshots: $(STAMP) system-packages
	BDCWATCH_SCREENSHOTS=docs $(PYTEST) -q tests/web/test_browser.py

## clock: tests that touch "today" must pass whatever the hour and the machine's zone
clock: $(STAMP)
	@if command -v faketime >/dev/null; then \
	  echo "==> clock pass: $(TODAY_UTC) 17:30 UTC, TZ=UTC (Shanghai is a day ahead)"; \
	  TZ=UTC faketime "$(TODAY_UTC) 17:30:00" $(PYTEST) -q $(XDIST) $(CLOCK_TESTS) tests && \
	  echo "==> clock pass: $(TODAY_UTC) 03:30 UTC, TZ=Asia/Shanghai (a normal hour: both dates agree)" && \
	  TZ=Asia/Shanghai faketime "$(TODAY_UTC) 11:30:00" $(PYTEST) -q $(XDIST) $(CLOCK_TESTS) tests; \
	else echo "SKIPPED clock pass: faketime is not installed (apt-get install -y faketime)"; fi

## system-packages: Debian packages some tiers use (faketime; chromium and CJK fonts for the browser
## tests and the README's pictures); missing ones skip those tests, saying why
system-packages:
	@missing=""; command -v faketime >/dev/null || missing="$$missing faketime"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing (apt-get)"; \
	    { timeout 600 apt-get update -q >/dev/null 2>&1; \
	      timeout 900 apt-get install -y -q $$missing >/dev/null 2>&1; } \
	      || echo "could not install$$missing: the tests that need it are skipped"; \
	  else echo "not root: install$$missing yourself, or the tests that need it are skipped"; fi; \
	fi

benchmark: $(STAMP)
	$(BIN)/python benchmarks/ecert_scale.py

## lock: re-resolve both lock files from pyproject.toml (run after changing dependencies)
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements-dev.lock

clean: stop stack-stop
	rm -rf var $(VENV)
