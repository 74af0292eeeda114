# The two commands: `make run` and `make test`. Each builds .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint format bench load clean

# `make load`: a bounded headless run against a running `make run`.
LOAD_HOST ?= http://127.0.0.1:8000
LOAD_USERS ?= 20
LOAD_TIME ?= 60s

$(INSTALLED): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

install: $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/python -m serve

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# `make bench`: the rush against the conventional reference (Postgres needed),
# then what one showtime actor costs.
bench: $(INSTALLED)
	$(BIN)/python -m bench.rush $(BENCH_ARGS)
	$(BIN)/python -m bench.actor_footprint

load: $(INSTALLED)
	$(BIN)/locust -f load/locustfile.py --headless --host $(LOAD_HOST) \
		--users $(LOAD_USERS) --spawn-rate $(LOAD_USERS) --run-time $(LOAD_TIME) \
		--only-summary $(LOCUST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
