# The README's commands. Each target installs what it needs into a local virtualenv (.venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: price the example portfolio (installs into .venv first)
demo: $(STAMP)
	$(BIN)/xvaflow validate examples/demo
	$(BIN)/xvaflow price examples/demo --out out/demo

## test: lint, type-check and run the whole test suite (what CI runs)
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check xvaflow tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

## bench: t0 pricing benchmark on a generated 1,000 x 20,000 portfolio
bench: $(STAMP)
	$(BIN)/python benchmarks/price_portfolio.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
