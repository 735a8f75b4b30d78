# Every target sets up what it needs from a bare clone: .venv, the extras, PostgreSQL.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.PHONY: test demo bench lint typecheck pytest postgres clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,demo,powertools,aio,bench]'
	touch $@

$(VENV)/.demo: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.bench: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[bench,dev]'
	touch $@

# The rotation tests start a throwaway PostgreSQL cluster; Debian's binaries serve.
postgres:
	@if [ -x "$$(pg_config --bindir 2>/dev/null)/initdb" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  true; \
	else \
	  echo "installing Debian's postgresql for the rotation tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

lint: $(VENV)/.dev
	$(BIN)/ruff check secretcache tests examples bench tools
	$(BIN)/ruff format --check secretcache tests examples bench tools

typecheck: $(VENV)/.dev
	$(BIN)/mypy --strict secretcache

pytest: $(VENV)/.dev postgres
	$(BIN)/coverage run -m pytest -q
	@$(BIN)/coverage report
	@echo "total branch coverage: $$($(BIN)/coverage report --format=total)%"

test: lint typecheck pytest

demo: $(VENV)/.demo
	$(PY) -m secretcache demo

bench: $(VENV)/.bench
	$(PY) bench/compare.py
	$(PY) bench/fleet.py
	$(PY) bench/coldstart.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage htmlcov
