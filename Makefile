# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make demo    set up, serve the bundled demo news site on 127.0.0.1, crawl it, show the archive
#   make test    set up, then lint, type-check and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-data

.PHONY: setup setup-pywb demo test lint bench clean

setup: $(VENV)/.installed setup-pywb

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# pywb pins redis==2.10.6 and exact werkzeug/webassets versions (scrapy-redis needs redis>=4.2), so it and
# the WACZ validator get their own virtualenv; 'crawler replay serve' runs pywb from there.
PYWB_VENV := .venv-pywb
setup-pywb: $(PYWB_VENV)/.installed

$(PYWB_VENV)/.installed:
	test -x $(PYWB_VENV)/bin/python || $(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/python -m pip install -q 'pywb==2.10.0' 'wacz==0.6.0'
	touch $@

demo: setup
	$(BIN)/crawler demo --data-dir $(DEMO_DIR)

lint: setup
	$(BIN)/ruff check crawler spiders archive tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -p no:cacheprovider -n 2

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache *.egg-info
