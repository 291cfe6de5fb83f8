# Kapstone: `make run` serves the demo practice, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SWEEP_EVERY ?= 60
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: install run test test-fast fuzz bench bench-load lint migrate

# torch (for the creativity extra) must be the CPU build: on PyPI, Linux torch wheels pull in gigabytes of CUDA.
# TORCH_INDEX names where pip finds the CPU build: the PyTorch CPU wheel index
# (TORCH_INDEX=https://download.pytorch.org/whl/cpu), or empty where the package index pip already uses serves a
# CPU build (a mirror or wheelhouse that carries one).
TORCH_INDEX ?=

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	# torch first, from the CPU build, so installing the creativity extra never resolves a CUDA build.
	$(BIN)/pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,creativity]'
	touch $@

install: $(VENV)/.installed

migrate: install
	mkdir -p var
	KAPSTONE_DEMO=1 $(BIN)/kapstone migrate --noinput

# Without REDIS_URL tasks run eagerly and ignore their eta, so a background `run_sweeps` sends delayed reminders
# when they fall due. The trap stops it whenever the server stops, however it stops.
run: migrate
	KAPSTONE_DEMO=1 $(BIN)/kapstone seed_demo
	@echo "Serving http://$(HOST):$(PORT)/ and sweeping for due reminders every $(SWEEP_EVERY) s  (Ctrl-C stops both)"
	@KAPSTONE_DEMO=1 $(BIN)/kapstone run_sweeps --every $(SWEEP_EVERY) & sweeper=$$!; \
	trap 'kill $$sweeper 2>/dev/null; wait $$sweeper' EXIT; trap 'exit 130' INT TERM; \
	KAPSTONE_DEMO=1 $(BIN)/kapstone runserver --insecure $(HOST):$(PORT)

# Whole files to a worker (--dist loadfile): the demo practice and the planner's plans are made once per module or
# process, and splitting a file between the workers makes them twice (measured: 132 s against 205 s for
# tests/program, measures, creativity and integration_app on two workers).
test: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile -q $(PYTEST_ARGS)

# Fresh random examples for the fault tests (the suite's are fixed): for hunting faults, not for CI.
fuzz: install
	KAPSTONE_HYPOTHESIS_PROFILE=explore $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile -q tests/faults

test-fast: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile -q -m "not browser and not celery_worker"

# The same checks as CI and the pre-commit hooks (.pre-commit-config.yaml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	KAPSTONE_DEMO=1 $(BIN)/mypy
	KAPSTONE_DEMO=1 $(BIN)/kapstone makemigrations --check --dry-run

bench: install
	KAPSTONE_DEMO=1 $(BIN)/python scripts/bench.py

# Pages under load on PostgreSQL (127.0.0.1:5432, user postgres) with the production server, at 1,000 and 10,000
# patients with how each figure grows between them (PATIENTS=10000 for one size, PATIENTS=1000,10000,100000 for more).
PATIENTS ?= 1000,10000
bench-load: install
	$(BIN)/python scripts/bench_load.py --patients $(PATIENTS)
