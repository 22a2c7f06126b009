# The README's commands. Each target installs what it needs into a local virtualenv (.venv):
# `demo` only the package and its runtime dependencies (numpy, scipy, threadpoolctl), the other
# targets also the dev stack (linters, test tools, QuantLib, the CDK libraries, moto).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORE_STAMP := $(VENV)/.installed-core
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit browser infra bench clean

$(CORE_STAMP): pyproject.toml
	@echo "== installing xvaflow and its runtime dependencies into $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -e .
	touch $(CORE_STAMP)

$(STAMP): $(CORE_STAMP) pyproject.toml
	@echo "== installing the dev stack (.[dev]: lint, types, tests, QuantLib, CDK) into $(VENV)"
	$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## demo: t0 prices and XVA of the example portfolio (installs the package into .venv first);
## outputs in out/demo
demo: $(CORE_STAMP)
	$(BIN)/xvaflow validate examples/demo
	$(BIN)/xvaflow price examples/demo
	$(BIN)/xvaflow run examples/demo --out out/demo

## test: lint, type-check and run the whole test suite (what CI runs)
test: lint typecheck unit infra

lint: $(STAMP)
	$(BIN)/ruff check xvaflow tests benchmarks infra lambdas containers

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) browser
	$(BIN)/pytest -q $(PYTEST_ARGS)

# report.html's test opens it in a real headless browser: Debian's chromium, installed here when
# this runs as root with apt-get (as in CI); elsewhere that test is skipped and says why
BROWSERS := chromium chromium-browser google-chrome
browser:
	@if (for b in $(BROWSERS); do command -v $$b && exit 0; done; exit 1) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "== installing Debian's chromium for the report's browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  || echo "WARNING: chromium could not be installed; the browser test will be skipped"; \
	else echo "SKIPPED installing chromium (not root, or no apt-get): the browser test will be \
	skipped"; fi

# the workflow definition (asl-validator, statelint), `cdk synth` with cdk-nag, cfn-lint;
# needs node/npm (pinned tools come from package-lock.json) and is skipped, loudly, without it
infra: $(STAMP)
	@if command -v npm >/dev/null 2>&1; then PATH="$(CURDIR)/$(BIN):$$PATH" sh infra/check.sh; \
	else echo "SKIPPED infra checks: node/npm not installed"; fi

## bench: the benchmarks of benchmarks/RESULTS.md (several minutes)
bench: $(STAMP)
	$(BIN)/python benchmarks/price_portfolio.py
	$(BIN)/python benchmarks/bench_bank.py
	$(BIN)/python benchmarks/bench_seed_dag.py

clean:
	rm -rf $(VENV) out cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache test-artifacts
