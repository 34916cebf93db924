# The commands the README shows. Each target sets up what it needs (a venv in .venv).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DATA   ?= var

.PHONY: setup demo test lint typecheck bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

## Make the demo product if absent and render the seed's batch with it.
demo: setup
	$(BIN)/s2render demo --data $(DATA)

## Run the whole test suite.
test: setup
	$(BIN)/python -m pytest -q

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
