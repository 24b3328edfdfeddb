# Everything a fresh machine needs: `make demo` runs the demo, `make test` runs the checks.
# Both install every optional part (`.[all]`, see docs/install.md) and the dev tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/agentplane demo

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python bench/run_all.py
	$(BIN)/python bench/readme_table.py
	$(BIN)/python bench/retrieval_quality.py
	$(BIN)/python bench/retrieval_speed.py

# The documentation site into site/, offline; --strict (mkdocs.yml) fails on a broken link.
docs: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,docs]'
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
