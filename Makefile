# familycard: every target sets itself up on a fresh machine (a .venv beside this file).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit clean install fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make demo: the embedded default — a synthetic population, one year, every flow in-process
demo: $(STAMP)
	$(PY) -m familycard run --output out

## make test: lint, type check, then the whole test suite (starts a real Tansu broker)
test: $(STAMP) lint typecheck
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check state rules schemas flows familycard tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest -q -m "not kafka and not slow"

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache

## make fuzz: the decode path and the stages behind it, fed 100 000 mutated messages
fuzz: $(STAMP)
	FUZZ_COUNT=100000 $(PY) -m pytest -q tests/test_fuzz.py
