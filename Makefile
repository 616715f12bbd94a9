# Everyday verbs. Everything runs in .venv, created on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install dev demo test lint format bench bench-scan serve bench-load fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python          ## install tosguard (a regular, non-editable install)
	$(BIN)/python -m pip install --quiet .

dev: $(BIN)/python              ## editable install with test, service and bench extras
	$(BIN)/python -m pip install --quiet -e '.[dev]'

demo: install                   ## check the example manifest against the shipped library
	$(BIN)/tosguard check examples/acme.yaml || test $$? -eq 1

# The suite always runs on the newest releases the declared ranges allow, as on a fresh machine
# (CI): an older release left in .venv must not hide a break.
test: $(BIN)/python             ## the whole test suite
	$(BIN)/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[test]'
	$(BIN)/python -m pytest -q

LINTED := src tests bench fuzz scripts

lint: $(BIN)/python             ## ruff check, ruff format --check, mypy (run by CI)
	$(BIN)/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[test,lint]'
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

format: $(BIN)/python           ## rewrite the code in the one layout (ruff format)
	$(BIN)/python -m pip install --quiet -e '.[lint]'
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

bench: $(BIN)/python            ## benchmarks (not run in CI)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py

bench-scan: $(BIN)/python       ## `tosguard scan` against ripgrep on a generated 1 GB corpus (needs rg)
	$(BIN)/python -m pip install --quiet -e '.[data]'
	$(BIN)/python bench/scan.py --size-mb $(or $(SIZE_MB),1024)

serve: $(BIN)/python            ## the HTTP service on 127.0.0.1:8000 (see docs/service.md)
	$(BIN)/python -m pip install --quiet -e '.[serve]'
	$(BIN)/tosguard serve

bench-load: $(BIN)/python       ## the HTTP service under a bounded loopback load (~20 min)
	$(BIN)/python -m pip install --quiet -e '.[serve]'
	$(BIN)/python bench/load.py --requests 100000 --duration 900
	$(BIN)/python bench/load.py --workers 2 --rate 500 --requests 100000 --duration 900

fuzz: $(BIN)/python             ## coverage-guided fuzzing, 10 minutes per harness (not in CI)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	mkdir -p fuzz/crashes
	for harness in manifest check policy; do \
	  $(BIN)/python fuzz/run.py $$harness -max_total_time=600 -timeout=20 \
	    -artifact_prefix=fuzz/crashes/ || exit 1; \
	done

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
