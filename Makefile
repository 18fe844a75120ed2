# commcredits: `make run` starts the service with demo data on SQLite; `make test` installs
# everything and runs lint, types and the test suite.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	COMMCREDITS_SANDBOX=$${COMMCREDITS_SANDBOX:-1} $(BIN)/commcredits serve --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/commcredits

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/rating.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
