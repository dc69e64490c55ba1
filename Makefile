# One obvious command per task. Each target creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint bench install browser screenshots clean

# The dashboard's browser tests drive Debian's chromium (Playwright never downloads one).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core

browser: $(CHROMIUM)

demo: $(STAMP)
	$(BIN)/trueup demo

test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check src tests bench docs
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench docs
	$(BIN)/ruff format --check src tests bench docs
	$(BIN)/mypy

# The figures of SPEC section 9 and the issues; each prints its own table.
bench: $(STAMP)
	$(BIN)/python bench/run.py --entities 10000
	$(BIN)/python bench/git_bench.py
	$(BIN)/python bench/kube_bench.py
	$(BIN)/python bench/large_file.py
	$(BIN)/python bench/dashboard_bench.py --entities 10000

# The README's pictures of the dashboard, from the demo world with its history.
screenshots: $(STAMP) $(CHROMIUM)
	$(BIN)/python docs/screenshots/make_screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
