# London Funded Services Directory. `make help` lists the targets.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PORT ?= 5000
# The London data: DIRECTORY_GEODATA_DIR when set, else the shared data folder beside this
# checkout (or, for a clone made elsewhere, beside the checkout it was cloned from) when
# there is one, else the newest refreshed release under instance/data, else the snapshot
# packaged with the project (no network needed).
ORIGIN := $(shell git config --get remote.origin.url 2>/dev/null)
SHARED_DATA := $(firstword $(wildcard ../shared/data/SOURCES.md $(ORIGIN)/../shared/data/SOURCES.md))
DIRECTORY_GEODATA_DIR ?= $(if $(SHARED_DATA),$(abspath $(dir $(SHARED_DATA))),)
export DIRECTORY_GEODATA_DIR

.PHONY: help install run init demo test test-fast openapi bench lint snapshot clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/directory: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres,dev]'
	@touch $@

install: $(BIN)/directory ## create the virtualenv and install the project

# Spectral, the OpenAPI linter tests/directory/test_spectral.py runs (npm; Node.js 18.18+ or 20.17+),
# pinned by tools/spectral/package-lock.json
SPECTRAL := tools/spectral/node_modules/.bin/spectral
$(SPECTRAL): tools/spectral/package-lock.json
	npm ci --prefix tools/spectral --prefer-offline --no-audit --no-fund --loglevel=error
	@touch $@

# axe-core, the accessibility checker tests/browser/test_page_accessibility.py runs inside the
# page (WCAG 2.2 AA rules), pinned by tools/axe/package-lock.json
AXE := tools/axe/node_modules/axe-core/axe.min.js
$(AXE): tools/axe/package-lock.json
	npm ci --prefix tools/axe --prefer-offline --no-audit --no-fund --loglevel=error
	@touch $@

init: install ## migrate the database and load the geography
	$(BIN)/directory init

demo: init ## load the demo directory (real MOPAC decisions and 360Giving grants), crime and population
	$(BIN)/directory demo load

# the demo's 360Giving publisher prefix, made up and marked so (README "360Giving")
DEMO_GIVING360_PREFIX := 360G-demo-lfsd
run: demo ## install, initialise, load the demo directory and serve on http://127.0.0.1:$(PORT)/
	DIRECTORY_GIVING360_PREFIX=$${DIRECTORY_GIVING360_PREFIX:-$(DEMO_GIVING360_PREFIX)} $(BIN)/directory serve --port $(PORT)

# the test files are spread over TEST_WORKERS processes (pytest-xdist; each starts its own
# throwaway PostgreSQL cluster and holds ~1.3 GB, hence at most 4); TEST_WORKERS=0 runs them
# in this one process
TEST_WORKERS ?= auto --maxprocesses 4
# The project's modules compiled once before the tests: where PYTHONDONTWRITEBYTECODE is set
# (as on CI's machines) no process writes them, and every process the tests start (each
# `directory` command, gunicorn master and worker) compiled all ~190 again, 1.5-2 s each
BYTECODE := $(BIN)/python -m compileall -q -j 0 directory geodata
test: install $(SPECTRAL) $(AXE) ## run the whole test suite (SQLite and a throwaway PostgreSQL)
	$(BYTECODE)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: install $(SPECTRAL) $(AXE) ## the tests that do not walk every postcode
	$(BYTECODE)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not slow"

openapi: install ## regenerate the committed OpenAPI document
	$(BIN)/directory openapi write openapi/openapi.json

bench: install ## run the benchmarks (needs wrk for the HTTP ones)
	$(BIN)/python scripts/bench_geodata.py
	$(BIN)/python scripts/bench_api.py
	$(BIN)/python scripts/bench_import.py
	$(BIN)/python scripts/bench_search.py
	$(BIN)/python scripts/bench_page.py

snapshot: install ## rebuild the packaged London snapshot from DIRECTORY_GEODATA_DIR (or ../shared/data)
	$(BIN)/python scripts/build_snapshot.py $(if $(DIRECTORY_GEODATA_DIR),--from "$(DIRECTORY_GEODATA_DIR)",)

lint: install ## ruff
	$(BIN)/ruff check directory geodata tests scripts

clean: ## remove the virtualenv, the local database and the unpacked data
	rm -rf $(VENV) instance .cache
