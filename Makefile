# Every routine chore has a target here. `make run` and `make test` bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt typecheck bench ab clean migration layers

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

.venv: $(STAMP)

run: $(STAMP)
	$(BIN)/tessera serve --demo

# Three processes on two cores: a third of the suite's time is spent waiting on servers,
# browsers and databases it starts (252 s against 280 s with two, same tests, same machine).
test: $(STAMP)
	$(BIN)/pytest -n 3 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

# The peers (Django REST framework + simplejwt, Flask + flask-jwt-extended) and gunicorn come
# from the `bench` extra; wrk from Debian's package when we may install it (else a Python load).
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& (apt-get install -y -q wrk >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null)) \
		|| echo "wrk not installed: protected GETs use the Python load generator"; }
	$(BIN)/python -m bench

# A change to a hot path, A/B against another checkout (OTHER, e.g. a worktree of main): the
# server CPU per refresh or per GET, rounds interleaved. make ab OTHER=../main ARGS="--route get"
ab: $(BENCH_STAMP)
	$(BIN)/python -m bench.ab $(OTHER) $(ARGS)

# The arrows between Tessera's parts, and any that point up or in a circle: make layers [SRC=dir]
layers: $(STAMP)
	$(BIN)/python -m tests.test_layers $(SRC)

# New Alembic revision after a schema change: make migration m="what changed"
migration: $(STAMP)
	$(BIN)/python scripts/new_migration.py "$(m)"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .tessera .cache
