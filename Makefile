# Two commands on a fresh machine: `make run` serves a node, `make test` runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ./data
PREFIX ?= 88.101
HTTP ?= 127.0.0.1:8000
HANDLE ?= 127.0.0.1:2641
ADMIN_SECRET ?=
PYTEST_ARGS ?=
TEST_JOBS ?= 2

.PHONY: run test bench bench-goals lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# setup.py and the .pyx: the compiled fast path (resolver/handle/_compiled.pyx), built by pip with Cython.
COMPILED := setup.py resolver/handle/_compiled.pyx

$(VENV)/.installed: pyproject.toml $(COMPILED) | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(COMPILED) | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

# ADMIN_SECRET given: init checks it is the folder's secret (it stops, saying so, when it is not).
run: $(VENV)/.installed
	@if [ -n '$(ADMIN_SECRET)' ] || [ ! -f $(DATA)/data.mdb ]; then $(BIN)/idnode init --data $(DATA) \
		--prefix $(PREFIX) $(if $(ADMIN_SECRET),--admin-secret '$(ADMIN_SECRET)'); fi
	$(BIN)/idnode serve --data $(DATA) --http $(HTTP) --handle $(HANDLE)

# Two passes: most tests wait on real nodes, so TEST_JOBS pytest-xdist workers share them out; the tests
# marked serial (timing bounds, load, worker processes) then run alone. Both passes run; make fails if
# either failed. Exit status 5 is "no test selected" (PYTEST_ARGS naming only one kind).
# Bytecode is cached (in build/pycache) even where PYTHONDONTWRITEBYTECODE is set: see tests/conftest.py.
test: export PYTHONDONTWRITEBYTECODE :=
test: export PYTHONPYCACHEPREFIX := $(CURDIR)/build/pycache
test: $(VENV)/.installed-test
	status=0; \
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadscope -m 'not serial' $(PYTEST_ARGS) || [ $$? -eq 5 ] || status=1; \
	$(BIN)/python -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ] || status=1; \
	exit $$status

bench: $(VENV)/.installed-test
	$(BIN)/python -m loadtests.bench

# Issue 22's goals only, each beside its same-run reference: three interleaved runs, a few minutes.
bench-goals: $(VENV)/.installed-test
	$(BIN)/python -m loadtests.bench --only goals --quick

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache resolver/handle/_compiled.c resolver/handle/_compiled*.so
