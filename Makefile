# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run demo test test-slow test-browser lint lint-imports typecheck unit bench check-plan clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## the real bot: needs DISCORD_TOKEN in the environment or .env
	$(BIN)/python -m bot run

demo: $(STAMP)  ## the bot offline, in a browser preview on 127.0.0.1 (another port: make demo PORT=9000)
	$(BIN)/python -m bot demo $(if $(PORT),--port $(PORT))

lint: $(STAMP)
	$(BIN)/ruff check .

lint-imports: $(STAMP)  ## the floors: domain pure, services and store without Discord (pyproject: importlinter)
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs in TEST_WORKERS processes (pytest-xdist; each with its own PostgreSQL server and databases).
# TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
unit: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -n $(TEST_WORKERS) --dist worksteal

test-slow: $(STAMP)  ## the long simulations (a year of reminder ticks); .ci/run runs them after make test
	$(BIN)/python -m pytest -m slow

test: lint lint-imports typecheck unit

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
test-browser: $(STAMP)  ## the demo in headless Chromium, used as a newcomer does; screenshots in tests/browser/out/
	test -x /usr/bin/chromium || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)
	$(BIN)/python -c "import playwright" 2>/dev/null || $(BIN)/python -m pip install --quiet playwright
	$(BIN)/python tests/browser/demo_check.py

bench: $(STAMP)
	$(BIN)/python -m bench

check-plan: $(STAMP)
	$(BIN)/python -m bot check-plan $(or $(PLAN),bot/data/backend-learning-plan.md)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
