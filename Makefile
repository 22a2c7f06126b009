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

## demo: XVA of the example portfolio (installs into .venv first); outputs in out/demo
demo: $(STAMP)
	$(BIN)/xvaflow validate examples/demo
	$(BIN)/xvaflow run examples/demo --out out/demo

## test: lint, type-check and run the whole test suite (what CI runs)
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check xvaflow tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

## bench: the benchmarks of benchmarks/RESULTS.md (several minutes)
bench: $(STAMP)
	$(BIN)/python benchmarks/price_portfolio.py
	$(BIN)/python benchmarks/bench_bank.py
	$(BIN)/python benchmarks/bench_seed_dag.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
