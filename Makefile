# Thin wrappers around the plain commands; README.md says what each does.
# `make book` and `make test` set up what they need first (`make setup`: venv + data),
# which is fast when already done.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Torch goes in first and pinned, so that `pip install -e .` keeps it.
TORCH := torch==2.14.1 torchvision==0.29.1
SETUP_STAMP := $(VENV)/.trajreg-setup
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

# Kernels: prefer the venv's Jupyter folders over user-level ones, so `python3` is the venv kernel.
export JUPYTER_PREFER_ENV_PATH := 1
# Quiet the debugger warning that ipykernel prints in every fresh kernel.
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help setup data book book-fast status execute test test-unit test-site test-notebooks browser lint clean

help:
	@echo "make book       run every notebook at default parameters, then build the site (_build/html)"
	@echo "make test       unit tests, the site test, then re-run every notebook and compare its checked outputs"
	@echo "make test-site  build the book from the committed notebooks; check its links and pages in Chromium"
	@echo "make book-fast  build the site from the notebooks as committed (no re-execution)"
	@echo "make status     regenerate book/status.md from the executed notebooks"
	@echo "make lint       ruff check trajreg tests"
	@echo "make setup      create .venv and install trajreg[dev]; get Fashion-MNIST (done by book/test)"
	@echo "make clean      remove _build and caches (keeps .venv)"

setup: $(SETUP_STAMP) data

# The stamp is rebuilt when pyproject.toml changes (new dependencies). The last step registers the
# venv's python as the kernel `python3` inside the venv (absolute path in kernel.json).
$(SETUP_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install $(TORCH)
	$(BIN)/pip install -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)"
	touch $@

# Fashion-MNIST: Debian's package folder or the cache, else the Debian package, else a checked download.
data: $(SETUP_STAMP)
	$(BIN)/python -m trajreg.data

# Execute every notebook in place with papermill at its default parameters, in its own folder,
# JOBS at a time (default 2), longest first (scripts/run_notebooks.py).
execute: setup
	$(BIN)/python scripts/run_notebooks.py execute $(NOTEBOOKS)

book: execute
	$(MAKE) book-fast

book-fast: $(SETUP_STAMP) status
	$(BIN)/jupyter-book build . -W -n --keep-going

# The reproduction status page, generated from the rows the executed notebooks record.
status: $(SETUP_STAMP)
	$(BIN)/python -m trajreg.status book/status.md --intro book/intro.md --fid book/fid.md

# Runs every suite even if one fails, and fails if any did.
test: setup
	status=0; $(MAKE) test-unit || status=1; $(MAKE) test-site || status=1; \
	$(MAKE) test-notebooks || status=1; exit $$status

test-unit: $(SETUP_STAMP)
	$(BIN)/pytest tests

# The site as a reader gets it: the book built from the committed notebooks with every page re-read
# (--all: a page cached by an earlier build would hide its warnings), then its internal links and
# every page of the table of contents in headless Chromium (screenshots: _build/screenshots).
test-site: $(SETUP_STAMP) browser status
	@start=$$SECONDS; $(BIN)/jupyter-book build . -W -n --keep-going --all; build=$$((SECONDS - start)); \
	TRAJREG_SITE=_build/html $(BIN)/pytest tests/site; \
	echo "test-site: book built in $$build s, site tested in $$((SECONDS - start - build)) s"

# Debian's chromium for the site test, installed only if no Chromium is on the PATH (as root or with sudo).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation; }

# nbval re-executes each notebook in its folder and compares the cells marked # NBVAL_CHECK_OUTPUT.
test-notebooks: $(SETUP_STAMP)
	$(BIN)/python scripts/run_notebooks.py check $(NOTEBOOKS)

lint: $(SETUP_STAMP)
	$(BIN)/ruff check trajreg tests

clean:
	rm -rf _build .pytest_cache .ruff_cache
