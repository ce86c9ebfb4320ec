# Two commands for a newcomer: `make up` runs the platform, `make test` runs every check.
# Each installs what is missing first: Debian packages, then the locked Python environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-12)

.PHONY: up test deps system-deps test-system-deps lint typecheck unit lock clean

up: deps
	$(BIN)/smartcity up --demo

test: deps test-system-deps lint typecheck
	$(BIN)/pytest

deps: system-deps $(STAMP)

system-deps:
	@./scripts/install-system-deps.sh

# what only the tests drive: Chromium for the page, tmux for the console
test-system-deps:
	@./scripts/install-system-deps.sh --test

$(STAMP): requirements.lock pyproject.toml
	@echo "smartcity: creating $(VENV) from requirements.lock (pinned, hash-checked)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

# Regenerate the lock after changing dependencies in pyproject.toml (needs uv on PATH).
lock:
	uv pip compile pyproject.toml --group dev --generate-hashes --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .smartcity .mypy_cache .ruff_cache .pytest_cache
