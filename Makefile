# One obvious command per task. Each target creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint bench mutation install harness browser screenshots clean

# The dashboard's browser tests drive Debian's chromium (Playwright never downloads one).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	# An editable install compiles nothing; every command would compile trueup again
	# (where PYTHONDONTWRITEBYTECODE is set, the bytecode is never cached).
	$(BIN)/python -m compileall -q src > /dev/null
	touch $(STAMP)

install: $(STAMP)

# The Backstage compatibility harness (pinned npm packages, see backstage-harness/README.md).
# npm ci runs again only when the lock changes; better-sqlite3 compiles from source (~1 min).
HARNESS := backstage-harness
HARNESS_STAMP := $(HARNESS)/node_modules/.installed

$(HARNESS_STAMP): $(HARNESS)/package.json $(HARNESS)/package-lock.json
	cd $(HARNESS) && npm ci --no-audit --no-fund --loglevel=error
	touch $(HARNESS_STAMP)

harness: $(HARNESS_STAMP)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core

browser: $(CHROMIUM)

demo: $(STAMP)
	$(BIN)/trueup demo

test: $(STAMP) $(HARNESS_STAMP) $(CHROMIUM)
	$(BIN)/ruff check src tests bench tools examples docs
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/pytest

# The layers and plugin boundaries of docs/ARCHITECTURE.md: [tool.importlinter] in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools examples docs
	$(BIN)/ruff format --check src tests bench tools examples docs
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

# The figures of SPEC section 9 and the issues; each prints its own table.
# BENCH_DATABASE=postgresql+psycopg://postgres@127.0.0.1:5432/test runs the sync and
# watch figures on PostgreSQL (a fresh database per world, dropped after).
BENCH_DATABASE ?=
BENCH_STORE = $(if $(BENCH_DATABASE),--database $(BENCH_DATABASE))
bench: $(STAMP)
	$(BIN)/python bench/run.py --entities 10000 $(BENCH_STORE)
	$(BIN)/python bench/git_bench.py
	$(BIN)/python bench/kube_bench.py $(BENCH_STORE)
	$(BIN)/python bench/large_file.py
	$(BIN)/python bench/serve_bench.py --entities 10000 --pushes 20
	$(BIN)/python bench/hydrate_bench.py --entities 10000
	$(BIN)/python bench/dashboard_bench.py --entities 10000

# How many small changes to the truth rules their tests notice (docs/mutation.md).
# Slow (minutes), so not part of `make test`. MUTATION_ARGS="--jobs 2 --module PATH".
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py $(MUTATION_ARGS)

# The README's pictures of the dashboard, from the demo world with its history.
screenshots: $(STAMP) $(CHROMIUM)
	$(BIN)/python docs/screenshots/make_screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(HARNESS)/node_modules
