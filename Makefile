# Every target sets up what it needs from a bare clone: .venv, the extras, PostgreSQL.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.PHONY: test demo bench bench-record docs lint typecheck pytest postgres wheel example-wheel example installed matrix clean

# pyenv's shims find python3.10 ... python3.13 only for the versions selected: select
# every 3.10-3.13 the machine has, for nox (a machine without pyenv uses its PATH).
PYENVS := $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.(10|11|12|13)\.' | paste -sd: -)
NOX    := PYENV_VERSION=$(PYENVS) $(BIN)/nox

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,demo,powertools,aio,bench,sqlalchemy,django,psycopg,pydantic,otel,release,docs]'
	touch $@

$(VENV)/.demo: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.bench: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[bench,dev,sqlalchemy,django,psycopg,pydantic,otel]'
	touch $@

# The rotation tests start a throwaway PostgreSQL cluster; Debian's binaries serve. Two
# clones' `make test` at once wait for each other's apt lock instead of failing on it.
postgres:
	@if [ -x "$$(pg_config --bindir 2>/dev/null)/initdb" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  true; \
	else \
	  echo "installing Debian's postgresql for the rotation tests"; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql >/dev/null; \
	fi

lint: $(VENV)/.dev
	$(BIN)/ruff check secretcache tests examples bench tools hatch_build.py
	$(BIN)/ruff format --check secretcache tests examples bench tools hatch_build.py
	$(PY) tools/check_layout.py
	$(BIN)/cfn-lint examples/template.yaml

typecheck: $(VENV)/.dev
	$(BIN)/mypy --strict secretcache

pytest: $(VENV)/.dev postgres
	$(BIN)/coverage run -m pytest -q
	@$(BIN)/coverage report
	@echo "total branch coverage: $$($(BIN)/coverage report --format=total)%"

# sdist and wheel, checked as PyPI and pip would see them (the description's links too).
wheel: $(VENV)/.dev
	rm -rf dist
	$(PY) -m build --outdir dist . >/dev/null
	$(BIN)/twine check --strict dist/*
	$(BIN)/check-wheel-contents dist/*.whl
	$(PY) tools/check_index_page.py dist/*

# The SAM example's dependencies: `sam build` installs examples/requirements.txt, which
# finds secretcache (not on a package index yet) in examples/wheels/.
example-wheel: wheel
	rm -rf examples/wheels
	mkdir -p examples/wheels
	cp dist/*.whl examples/wheels/

# What `sam build` would install, resolved by pip (a dry run): secretcache must be this
# clone's wheel.
example: example-wheel
	$(PY) tools/check_example_install.py

# The whole suite once more, against the wheel installed in a fresh venv (not editable).
installed: wheel postgres
	$(NOX) -s tests-3.11

# The whole suite against the wheel on every supported Python (or MATRIX="3.10 3.13").
MATRIX ?= 3.10 3.11 3.12 3.13
matrix: wheel postgres
	$(NOX) -s $(addprefix tests-,$(MATRIX))

# The manual (docs/, mkdocs.yml) into site/; --strict: a broken link, anchor or API
# reference is an error. Never add --quiet: it hides the warnings --strict counts.
docs: $(VENV)/.dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test: lint typecheck docs pytest example installed

demo: $(VENV)/.demo
	$(PY) -m secretcache demo

bench: $(VENV)/.bench postgres
	$(PY) bench/compare.py
	$(PY) bench/fleet.py
	$(PY) bench/rotation_logins.py
	$(PY) bench/outage.py
	$(PY) bench/coldstart.py
	$(PY) bench/settings.py
	$(PY) bench/plots.py --run
	@echo "this run is in bench/out/ (git-ignored); make bench-record publishes it"

# Publish the last run: its sections into bench/RESULTS.md, its series into bench/results/,
# the plots in docs/img/ redrawn. Then quote the new figures in docs/benchmarks.md: make
# test checks every figure there against bench/RESULTS.md.
bench-record: $(VENV)/.bench
	$(PY) bench/record.py
	$(PY) bench/plots.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage htmlcov .nox dist site \
	  examples/wheels bench/out
