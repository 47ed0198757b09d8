# Parcours — the two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
JS_STAMP := node_modules/.installed
CHROMIUM_STAMP := $(VENV)/.chromium
WEASYPRINT_STAMP := $(VENV)/.weasyprint
# What WeasyPrint (convocation letters as PDF) loads: Pango (with HarfBuzz, fontconfig), HarfBuzz's
# font subsetter (small PDFs; required by WeasyPrint's next versions) and a font with every
# French letter.
WEASYPRINT_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: install run run-scaled test test-postgres bench bench-national lint format clean

install: $(PY_STAMP) $(JS_STAMP) $(WEASYPRINT_STAMP)

$(PY_STAMP): pyproject.toml requirements-data.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps -r requirements-data.txt
	touch $@

$(JS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# Debian's chromium, driven by the browser tests through Playwright (never `playwright install`).
$(CHROMIUM_STAMP): | $(PY_STAMP)
	command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)
	touch $@

# Debian's packages for WeasyPrint, installed only when one is missing.
$(WEASYPRINT_STAMP): | $(PY_STAMP)
	dpkg -s $(WEASYPRINT_PACKAGES) >/dev/null 2>&1 || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(WEASYPRINT_PACKAGES))
	touch $@

## Run the whole platform: Temporal dev server, worker, API and pages on http://127.0.0.1:8000
run: install
	$(BIN)/parcours dev

## The same with two workers and two API processes on one port, on PostgreSQL (README:
## « Plusieurs workers et plusieurs API »); SCALED_DATABASE_URL names another database.
SCALED_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/parcours
run-scaled: install
	DATABASE_URL=$(SCALED_DATABASE_URL) $(BIN)/parcours dev --workers 2 --apis 2

## Run every test (SQLite by default; DATABASE_URL=postgresql+asyncpg://… for PostgreSQL)
test: install $(CHROMIUM_STAMP)
	$(BIN)/pytest -q
	$(BIN)/pytest -q -m isolated

test-postgres: install $(CHROMIUM_STAMP)
	DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test $(BIN)/pytest -q
	DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test $(BIN)/pytest -q -m isolated

## Benchmarks: print figures (never asserted in tests)
bench: install
	$(BIN)/python -m bench.journeys
	$(BIN)/python -m bench.journeys --postgres --rounds 2
	$(BIN)/python -m bench.resources
	$(BIN)/python -m bench.caf_import
	$(BIN)/python -m bench.caf_import --postgres
	$(BIN)/python -m bench.management
	$(BIN)/python -m bench.projection
	$(BIN)/python -m bench.appointments
	$(BIN)/python -m bench.long_journeys

## The managers' console with the whole country on Parcours: 2,000,000 journeys in PostgreSQL
## (seeded once, about half an hour; BENCH_ARGS=--reuse times an earlier seed again)
bench-national: install
	$(BIN)/python -m bench.national $(BENCH_ARGS)

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
