# The two commands of the README: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/statuspage serve --demo

# one pytest-xdist worker per CPU (pyproject.toml says how work is shared; tests marked `solo`,
# which measure speed, have the machine to themselves); `make test TEST_WORKERS=0` runs serially
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check statuspage probes stamping tests benchmarks
	$(BIN)/mypy statuspage probes stamping tests benchmarks

# `make bench` runs benchmarks/retry_storm.py; `make bench BENCH=stamping_throughput` another.
BENCH ?= retry_storm
bench: $(STAMP)
	command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq wrk; }
	$(BIN)/python benchmarks/$(BENCH).py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
