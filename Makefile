# Set up once, then: make simulate (the replay), make test (the suite), make lint.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup simulate test lint

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

simulate: setup
	$(BIN)/dochub simulate

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --strict bench examples conformance/generate.py
