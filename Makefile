PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,postgres]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/tui-pos --demo

test: $(VENV)/.installed
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check tui_pos tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed
	$(BIN)/python bench/run_all.py
	$(BIN)/python bench/hardware.py
	$(BIN)/python bench/registers.py
	$(BIN)/python bench/loyalty.py
	$(BIN)/python bench/customers.py
	$(BIN)/python bench/burst.py
	$(BIN)/python bench/pin.py
	$(BIN)/python bench/portal.py
	$(BIN)/python bench/dayclose.py
	$(BIN)/python bench/fiscal.py
	$(BIN)/python bench/catalog.py
	$(BIN)/python bench/imports.py
	$(BIN)/python bench/offline.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
