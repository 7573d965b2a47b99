# Nerve: one entry point for set-up, tests, the demo and benchmarks.
# `test`, `demo` and `bench` run `setup` first; `setup` is idempotent.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup test demo bench lint clean

setup: $(STAMP)

# Re-install only when the dependency declaration changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -n 2 --dist loadgroup -q

demo: setup
	$(VENV)/bin/nerve demo --out build/demo

bench: setup
	$(PY) -m pip install --quiet -e '.[dev,fpga]'
	$(PY) bench/run.py
	$(PY) bench/rtl.py
	$(PY) bench/book.py
	$(PY) bench/tick_to_trade.py
	# The book and the risk gate do not route yet (docs/development.md, "Fmax"): run them by hand.
	$(PY) bitstreams/fmax.py ingress --seeds 5

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf build .pytest_cache
