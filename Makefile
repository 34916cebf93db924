# The commands the README shows. Each target sets up what it needs (a venv in .venv).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DATA   ?= var

.PHONY: setup demo run test test-sqlite test-postgres lint typecheck bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

## Make the demo product if absent and render the seed's batch with it.
demo: setup
	$(BIN)/s2render demo --data $(DATA)

## The web service in one command (s2render serve): migrations, demo product, web server,
## dispatcher and a local Dask cluster, with its data under $(DATA).
run: setup
	S2RENDER_DATA_DIR=$(DATA) $(BIN)/s2render serve

## Run the whole test suite on SQLite, then the web tests again on a throw-away PostgreSQL
## cluster (scripts/with-postgres.sh; installs the postgresql package when run as root without it),
## but for those that run their own database (marker own_database).
test: test-sqlite test-postgres

test-sqlite: setup
	$(BIN)/python -m pytest -q

test-postgres: setup
	bash scripts/with-postgres.sh $(BIN)/python -m pytest -q -m 'not own_database' tests/web

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: setup
	$(BIN)/mypy

## Benchmark against the seed's algorithm on a full-size demo product (cached under $(DATA)/bench).
bench: setup
	$(BIN)/s2render bench --data $(DATA)/bench

clean:
	rm -rf $(VENV) $(DATA)
