# familycard: every target sets itself up on a fresh machine (a .venv beside this file).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit clean install fuzz tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make demo: the embedded default — a synthetic population, one year, every flow in-process
demo: $(STAMP)
	$(PY) -m familycard run --output out

## make tools: Prometheus (prometheus, promtool), Alertmanager (prometheus-alertmanager, amtool),
## docker-compose and yq (YAML as JSON for the alert tests), which the observability tests run,
## and chromium, which opens the what-if report in tests/familycard/test_whatif_report.py; installed with
## apt-get when missing and we are root (CI), else a note (those tests then fail or skip)
OBS_TOOLS := prometheus promtool docker-compose chromium
tools:
	@missing=""; for t in $(OBS_TOOLS) prometheus-alertmanager amtool yq; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	pkgs="prometheus prometheus-alertmanager docker-compose chromium yq"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $$pkgs (missing:$$missing)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q --no-install-recommends $$pkgs >/dev/null 2>&1 \
	      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$pkgs >/dev/null; }; \
	  else \
	    echo "missing:$$missing; install Prometheus, Alertmanager, docker-compose, chromium and yq (Debian: apt-get install $$pkgs)"; \
	  fi; \
	fi

## make test: lint, type check, then the whole test suite (starts a real Tansu broker and Prometheus)
test: $(STAMP) tools lint typecheck
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check state store rules schemas flows familycard tests deploy examples bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest -q -m "not kafka and not slow"

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache

## make fuzz: the decode path and the stages behind it, fed 100 000 mutated messages
fuzz: $(STAMP)
	FUZZ_COUNT=100000 $(PY) -m pytest -q tests/schemas/test_fuzz.py

## make bench-quick / make bench: issue 7's measurements (bench/run.py), printed and written to
## bench/RESULTS.md. bench-quick uses small sizes (a few minutes); bench the larger ones (long).
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

.PHONY: bench bench-quick
bench-quick: $(BENCH_STAMP)
	$(PY) -m bench.run --quick

bench: $(BENCH_STAMP)
	$(PY) -m bench.run --full

## make bench-nation NATION_DIR=/big/disk: the national-scale run (6.2 M families loaded with
## `familycard load`, then a week of the stream from the seed); ~1.5 h and ~35 GB of disk
NATION_DIR ?= /tmp/familycard-nation
.PHONY: bench-nation
bench-nation: $(BENCH_STAMP)
	$(PY) -m bench.nation --work $(NATION_DIR)
