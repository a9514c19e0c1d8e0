# Set-up is part of every target: a fresh machine needs only Python 3.11 and make.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run run-pg pg pg-stop test lint fmt bench teams-package browser postgres clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: install python3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	@$(PYTHON) -m venv $(VENV)

# PYTHONWARNINGS: setuptools warns about every editable install, with nothing in this project to act on.
$(STAMP): pyproject.toml | $(PY)
	@echo "Installing the bot and its packages into $(VENV) (once)..."
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@PYTHONWARNINGS=ignore $(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@$(PY) -m bot serve $(ARGS)

# A PostgreSQL of your own in ./.pg (as the postgres user when run as root), to try several replicas.
PG_DIR := .pg
PG_PORT ?= 5433
PG_URL := postgresql://postgres@127.0.0.1:$(PG_PORT)/supportbot

pg: $(STAMP) postgres
	@$(PY) -m tests.pg_cluster start $(PG_DIR) $(PG_PORT)

pg-stop: $(STAMP)
	@$(PY) -m tests.pg_cluster stop $(PG_DIR)

# The bot on that database; start more with e.g. `make run-pg PORT=3979` (each replica needs its own port).
run-pg: pg
	@SUPPORTBOT_DATABASE_URL=$(PG_URL) $(PY) -m bot serve $(ARGS)

NPM_TOOLS := $(VENV)/npm/.installed

test: $(STAMP) browser postgres $(NPM_TOOLS)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP)
	$(PY) -m benchmarks

# The browser test drives Debian's Chromium; installing it needs root and apt. Elsewhere that test skips.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "Could not install chromium with apt; the browser test will be skipped."; \
	fi

# The PostgreSQL engine's tests start a throwaway cluster from Debian's PostgreSQL server binaries;
# installing them needs root and apt. Elsewhere those tests skip, saying how to enable them.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
		|| echo "Could not install postgresql with apt; the PostgreSQL tests will be skipped."; \
	fi

# The Teams app package to upload: manifest with your app id, icons drawn fresh, zipped.
teams-package: $(STAMP)
	$(PY) manifest/teams/package.py --out build/teams/supportbot-teams.zip

# Microsoft's Teams manifest schemas and validator, for the manifest test (skipped without npm).
$(NPM_TOOLS): | $(PY)
	@if command -v npm >/dev/null 2>&1 && npm install --prefix $(VENV)/npm --no-audit --no-fund --silent \
		@microsoft/app-manifest@1.1.2 fs-extra@11; then touch $@; \
	else echo "npm is not available: the Teams manifest test will be skipped."; fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
