# shardvault developer commands. `make up` and `make test` are all a new user needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install up demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

# The embedded vault: API + 3 signers (2-of-3), SQLite, on 127.0.0.1:8080.
# Credentials land in ./.shardvault/credentials.json; Ctrl-C stops it.
up: install
	$(BIN)/shardvault up

demo: install
	$(BIN)/shardvault demo

lint: install
	$(BIN)/ruff check src tests benchmarks

typecheck: install
	$(BIN)/mypy src

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

bench: install
	$(BIN)/python benchmarks/frost_bench.py
	$(BIN)/python benchmarks/api_bench.py
	$(BIN)/python benchmarks/cggmp_bench.py
	$(BIN)/python benchmarks/presig_restart_bench.py
	$(BIN)/python benchmarks/chains_bench.py
	$(BIN)/python benchmarks/refresh_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
