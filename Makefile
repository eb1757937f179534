# Developer entry points. `make demo` and `make test` install whatever is missing first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -v
VIEWER_SOURCES := $(shell find viewer/src -type f 2>/dev/null) viewer/build.mjs viewer/package-lock.json

.PHONY: help install viewer demo serve test test-python test-viewer lint format messages bench clean fuzz

help:
	@echo "make demo      install what is missing, then serve the demo museum at http://127.0.0.1:8000"
	@echo "make test      install what is missing, then run every test (Python, browser, viewer)"
	@echo "make lint      ruff + mypy"
	@echo "make bench     measure speed against reference tools; writes docs/benchmarks.md"
	@echo "make messages  re-extract translatable messages into the .po catalogs"
	@echo "make fuzz      fuzz the project's own parsers (FUZZ_SECONDS each); writes docs/fuzz-results.md"

install:
	@bash scripts/bootstrap.sh

viewer/dist/manifest.json: $(VIEWER_SOURCES)
	cd viewer && npm run --silent build

viewer: install viewer/dist/manifest.json

demo: viewer
	$(BIN)/museum demo

test: viewer
	$(MAKE) --no-print-directory test-viewer test-python

test-python:
	$(BIN)/pytest $(PYTEST_ARGS)

test-viewer:
	cd viewer && npm test --silent

lint: install
	$(BIN)/ruff check server processing tests scripts fuzz
	$(BIN)/ruff format --check server processing tests scripts fuzz
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix server processing tests scripts fuzz
	$(BIN)/ruff format server processing tests scripts fuzz

messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --omit-header -o server/locale/messages.pot .
	$(BIN)/pybabel update -i server/locale/messages.pot -d server/locale -D messages --width 100 --ignore-pot-creation-date --no-fuzzy-matching
	@rm -f server/locale/messages.pot

BENCH_RECORDS ?= 100000

bench: install
	@BOOTSTRAP_BENCH=1 bash scripts/bootstrap.sh
	@{ echo "# Benchmarks"; echo; \
	  echo "Measured by \`make bench\` on this project's 2-core machine; each row compares the museum"; \
	  echo "with a reference in the same run."; echo; \
	  $(BIN)/python scripts/bench_search.py --records $(BENCH_RECORDS); } > docs/benchmarks.md.tmp; \
	  status=$$?; mv docs/benchmarks.md.tmp docs/benchmarks.md; \
	  $(BIN)/python scripts/bench_3d.py || status=1; \
	  $(BIN)/python scripts/bench_images.py || status=1; \
	  $(BIN)/python scripts/bench_av.py --work /dev/shm || status=1; \
	  $(BIN)/python scripts/bench_viewer.py || status=1; \
	  $(BIN)/python scripts/bench_trips.py || status=1; \
	  $(BIN)/python scripts/bench_load.py || status=1; cat docs/benchmarks.md; exit $$status

FUZZ_SECONDS ?= 300
fuzz: install
	$(BIN)/python -m fuzz.run --seconds $(FUZZ_SECONDS) --report docs/fuzz-results.md

clean:
	rm -rf viewer/dist .pytest_cache .mypy_cache .ruff_cache test-results
