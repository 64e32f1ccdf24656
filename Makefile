# Every routine chore has a target here. `make run` and `make test` bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt typecheck bench clean migration

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

.venv: $(STAMP)

run: $(STAMP)
	$(BIN)/tessera serve --demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

bench: $(STAMP)
	$(BIN)/python -m bench

# New Alembic revision after a schema change: make migration m="what changed"
migration: $(STAMP)
	$(BIN)/python scripts/new_migration.py "$(m)"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .tessera .cache
