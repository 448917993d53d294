# frontdesk — one command per job. `make test` works on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
UV        := .tools/bin/uv
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON := python3.11

.PHONY: help venv x12-tool lint test test-unit test-integration test-browser screenshots browser bench redis hapi hapi-stop run check clean

help:
	@echo "make run    start the gateway on its sandbox (http://127.0.0.1:8000, prints an API key)"
	@echo "make test   set up everything (venv, Redis, HAPI FHIR) and run the whole suite"
	@echo "make lint   ruff + mypy"
	@echo "make bench  run the benchmarks (prints ratios; JSON and PNG in .run/bench)"
	@echo "make hapi / hapi-stop   start/stop the two HAPI FHIR JPA servers (EHR A, EHR B)"
	@echo "make redis  start a local redis-server on 127.0.0.1:6390 (installs it if missing)"
	@echo "make x12-tool   build .tools/x12 (linuxforhealth-x12, pydantic 1) for the X12 cross-checks"
	@echo "make browser  install Debian's Chromium and axe-core for the console's browser tests"
	@echo "make screenshots  run the browser tests, writing the console's screenshots to docs/console"

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION)

# The venv is rebuilt from the lock file whenever the lock changes.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

venv: $(VENV)/.synced

# linuxforhealth-x12, the tests' independent X12 reader, needs pydantic 1: its own
# environment, pinned, run as a subprocess (tests/support/x12_check.py), never imported.
X12_TOOL := .tools/x12
X12_REQUIREMENTS := tests/support/x12_lfh/requirements.txt

$(X12_TOOL)/.synced: $(X12_REQUIREMENTS) | $(UV)
	rm -rf $(X12_TOOL)
	UV_PYTHON_DOWNLOADS=never $(UV) venv --quiet --python python3.11 $(X12_TOOL)
	VIRTUAL_ENV=$(abspath $(X12_TOOL)) $(UV) pip sync --quiet $(X12_REQUIREMENTS)
	touch $@

x12-tool: $(X12_TOOL)/.synced

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy gateway mappers connectors conformance simulators frontdesk tests benchmarks

redis:
	@scripts/redis.sh start

hapi:
	@hapi-server/hapi.sh start

browser:
	@scripts/browser.sh

hapi-stop:
	@hapi-server/hapi.sh stop

# The gateway on its sandbox: two simulated EHRs and a payer, in-memory cache.
run: venv
	$(VENV)/bin/frontdesk serve --host 127.0.0.1 --port $${PORT:-8000}

test-unit: venv
	$(PY) -m pytest tests/unit -q

test: venv x12-tool redis hapi browser
	$(PY) -m pytest -q

test-browser: venv redis hapi browser
	$(PY) -m pytest tests/browser -q

screenshots: venv redis hapi browser
	CONSOLE_SCREENSHOTS=docs/console $(PY) -m pytest tests/browser -q

# The scale benchmarks need Redis and HAPI; their PNG plots need the bench group (matplotlib).
bench: venv redis hapi
	$(UV) sync --frozen --quiet --group bench
	$(PY) -m benchmarks

check: lint test

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
