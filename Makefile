# Nerve: one entry point for set-up, tests, the demo and benchmarks.
# `test`, `demo` and `bench` run `setup` first; `setup` is idempotent.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup test demo serve bench lint clean browser loader

setup: $(STAMP) browser loader

# The dashboard's browser test drives Debian's headless Chromium (no test tool downloads its
# own browser). Installed from the Debian registry when missing and we may (root, apt-get).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium + chromium-driver for the browser test"; \
	    (apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null)); \
	  else \
	    echo "note: /usr/bin/chromium missing and cannot apt-get: the browser test will skip"; \
	  fi; \
	fi

# `nerve flash` programs boards with Debian's openFPGALoader; installed like the browser.
loader:
	@if ! command -v openFPGALoader >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian openfpgaloader for nerve flash"; \
	    (apt-get install -y -q openfpgaloader >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q openfpgaloader >/dev/null) || \
	     echo "note: could not install openfpgaloader: nerve flash will say so"); \
	  else \
	    echo "note: openFPGALoader missing and cannot apt-get: nerve flash will say so"; \
	  fi; \
	fi

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

# The control plane in front of the model card (a new risk-officer token is printed first).
serve: setup
	mkdir -p build
	$(VENV)/bin/nerve token add desk-$$(date +%s) --role risk --db build/nerve.db
	$(VENV)/bin/nerve serve --backend model --db build/nerve.db --symbols AAPL=1,MSFT=2,NVDA=3,AMZN=4

bench: setup
	$(PY) -m pip install --quiet -e '.[dev,fpga]'
	$(PY) bench/run.py
	$(PY) bench/rtl.py
	$(PY) bench/replay.py
	$(PY) bench/book.py
	$(PY) bench/tick_to_trade.py
	$(PY) bench/drivers.py
	$(PY) bench/control.py
	$(PY) bench/bus.py
	$(PY) bench/oms.py
	$(PY) bench/tca_store.py
	$(PY) bench/loop.py
	$(PY) bench/board.py
	# The other blocks take 3-10 minutes a seed to route (book, risk, strategy, encoder) and the
	# whole path takes up to 45 minutes a capacity (`bitstreams/fastpath.py board`): run them by
	# hand. The whole path's committed reports are printed side by side.
	$(PY) bitstreams/fmax.py ingress --seeds 5
	$(PY) bitstreams/bound.py --seeds 3
	$(PY) bitstreams/bound.py lookup --capacity board
	$(PY) bitstreams/fastpath.py --table
	# One board's full build (elaborate, synthesise, place and route, pack): its report is
	# bitstreams/reports/ecpix5-85.json. Exit status 3 (timing not met) does not stop the bench.
	$(VENV)/bin/nerve build --board ecpix5-85 || [ $$? -eq 3 ]

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf build .pytest_cache
