# London Funded Services Directory. `make help` lists the targets.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# The shared London data beside this checkout (or, for a clone made elsewhere, beside the
# checkout it was cloned from) is used when present; otherwise `make run` downloads the
# official releases into instance/geodata first.
ORIGIN := $(shell git config --get remote.origin.url 2>/dev/null)
SHARED_DATA := $(firstword $(wildcard ../shared/data/SOURCES.md $(ORIGIN)/../shared/data/SOURCES.md))
DIRECTORY_GEODATA_DIR ?= $(if $(SHARED_DATA),$(abspath $(dir $(SHARED_DATA))),)
export DIRECTORY_GEODATA_DIR

.PHONY: help install run init demo test test-fast openapi bench lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/directory: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres,dev]'
	@touch $@

install: $(BIN)/directory ## create the virtualenv and install the project

init: install ## migrate the database and load the geography
ifeq ($(strip $(DIRECTORY_GEODATA_DIR)),)
	@echo "DIRECTORY_GEODATA_DIR is not set and ../shared/data is absent: downloading the official releases"
	$(BIN)/directory geodata download --to instance/geodata
	$(BIN)/directory init --from instance/geodata
else
	$(BIN)/directory init --from "$(DIRECTORY_GEODATA_DIR)"
endif

demo: init ## load the demo directory (real MOPAC decisions and 360Giving grants)
ifeq ($(strip $(DIRECTORY_GEODATA_DIR)),)
	@echo "The demo directory is built from the shared data files (grants/); set DIRECTORY_GEODATA_DIR to load it."
else
	$(BIN)/directory demo load --from "$(DIRECTORY_GEODATA_DIR)"
endif

run: demo ## install, initialise, load the demo directory and serve on http://127.0.0.1:5000/
	$(BIN)/directory serve

test: install ## run the whole test suite (SQLite and a throwaway PostgreSQL)
	$(BIN)/pytest

test-fast: install ## the tests that do not walk every postcode
	$(BIN)/pytest -m "not slow"

openapi: install ## regenerate the committed OpenAPI document
	$(BIN)/directory openapi write openapi/openapi.json

bench: install ## run the benchmarks (needs wrk for the HTTP ones)
	$(BIN)/python scripts/bench_geodata.py
	$(BIN)/python scripts/bench_api.py
	$(BIN)/python scripts/bench_import.py
	$(BIN)/python scripts/bench_search.py
	$(BIN)/python scripts/bench_page.py

lint: install ## ruff
	$(BIN)/ruff check directory geodata tests scripts

clean: ## remove the virtualenv and the local database
	rm -rf $(VENV) instance
