# Parcours — the two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
JS_STAMP := node_modules/.installed

.PHONY: install run test test-postgres bench lint format clean

install: $(PY_STAMP) $(JS_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(JS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

## Run the whole platform: Temporal dev server, worker, API and pages on http://127.0.0.1:8000
run: install
	$(BIN)/parcours dev

## Run every test (SQLite by default; DATABASE_URL=postgresql+asyncpg://… for PostgreSQL)
test: install
	$(BIN)/pytest -q

test-postgres: install
	DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test $(BIN)/pytest -q

## Benchmarks: print figures (never asserted in tests)
bench: install
	$(BIN)/python -m bench.journeys

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
