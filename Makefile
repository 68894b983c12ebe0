# kvk: every target sets up what it needs.  `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kvk-installed

.DEFAULT_GOAL := help

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@# kvk's own bytecode, as pip writes it for a regular install: an editable install leaves
	@# it to the first import, which PYTHONDONTWRITEBYTECODE=1 turns off (then every kernel and
	@# worker compiles kvk again: about 0.6 CPU-s of a `kvk run`)
	$(BIN)/python -m compileall -q kvk_analysis
	@touch $(STAMP)

## setup: create .venv and install kvk with its test tools (repeats only when pyproject.toml changes)
setup: $(STAMP)

## run: the main job on the embedded (simulated) default: data, notebooks, HTML and PDF reports in reports/
run: $(STAMP)
	$(BIN)/kvk run

## test: lint and run the test suite (slow Monte Carlo tests excluded; `make test-slow` runs them)
test: $(STAMP)
	$(BIN)/ruff check kvk_analysis tests benchmarks
	$(BIN)/python -m pytest -q

## test-slow: the slow tests (Monte Carlo coverage, full pipeline)
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

## data: regenerate the simulated demo data and build data/processed/
data: $(STAMP)
	$(BIN)/kvk data build

## bench: run the benchmarks (on demand; prints figures and ratios)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

## lint: ruff check and format check
lint: $(STAMP)
	$(BIN)/ruff check kvk_analysis tests benchmarks
	$(BIN)/ruff format --check kvk_analysis tests benchmarks

## clean: remove built data and reports, hidden temporary files included (never data/raw)
clean:
	rm -rf data/processed/* data/processed/.[!.]* data/processed/..?* reports/* reports/.[!.]* reports/..?*
	touch data/processed/.gitkeep reports/.gitkeep

.PHONY: help setup run test test-slow data bench lint clean
