# Thin wrappers; README.md gives the two commands that matter: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO := build/demo

.PHONY: help demo test lint bench bench-quick clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --group dev
	touch $@

demo: $(BIN)/.installed ## bake the default project into build/demo and serve it on 127.0.0.1:8000
	rm -rf $(DEMO)
	$(BIN)/cookiecutter --no-input --output-dir $(DEMO) .
	$(MAKE) -C $(DEMO)/graphql-service migrate seed run

test: $(BIN)/.installed ## bake every supported combination and run each generated suite (parallel)
	$(BIN)/pytest -n auto

lint: $(BIN)/.installed ## ruff and mypy on the template's own code (hooks, extension, tests)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(BIN)/.installed ## generated services vs the guide's way and the ceilings; writes README's table (needs wrk)
	$(BIN)/python bench/run.py

bench-quick: $(BIN)/.installed ## the same, short (about 3 minutes), to see that it runs; figures mean nothing
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) build
