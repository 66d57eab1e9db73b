# proxyapp: `make run` starts the whole stack on embedded defaults; `make test` passes the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKERS ?= 2
# make test-fast's pytest-xdist processes
TEST_PROCESSES ?= 2

.PHONY: run test test-fast lint migrate bench clean help

help:
	@echo "make help      - this list"
	@echo "make run       - set up and start web, $(WORKERS) workers, embedded Redis and the upstream simulator"
	@echo "make migrate   - set up and bring the database (DATABASE_URL, or the instance's SQLite file) to the latest schema"
	@echo "make test      - set up and run the whole test suite"
	@echo "make test-fast - the unit tests only (no servers or programs started), on $(TEST_PROCESSES) processes"
	@echo "make lint      - ruff, which must report nothing"
	@echo "make bench     - the benchmarks (on a quiet machine); results go in BENCHMARKS.md"
	@echo "make clean     - remove the virtualenv, pytest's cache and test-artifacts/"

$(BIN)/activate:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "proxyapp needs Python 3.11 or newer (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

migrate: $(VENV)/.installed
	$(BIN)/flask --app proxyapp db upgrade

run: migrate
	@echo ""
	@echo "  proxyapp      http://127.0.0.1:8000   (register at http://127.0.0.1:8000/register)"
	@echo "  simulator     http://127.0.0.1:8100   (the upstream, GenHealth's protocol)"
	@echo "  redis         redis://127.0.0.1:6380  (embedded)"
	@echo "  Ctrl-C stops everything."
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho --procfile Procfile.dev start --concurrency worker=$(WORKERS)

test: $(VENV)/.installed
	$(BIN)/python -m pytest

test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest tests/unit -q -n $(TEST_PROCESSES)

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks.bench

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
