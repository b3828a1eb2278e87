# spimpact: the two commands are `make demo` and `make test`.
# Each creates .venv when missing and installs the package with every extra.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest workers: two cores in CI
WORKERS ?= 2

.PHONY: demo test browser bench docs lint clean help

help:
	@echo "make demo   - set up .venv and run the England-like demo (writes spimpact-demo/report.html)"
	@echo "make test   - set up .venv and run the default test suite (installs chromium, as root, for the report browser test)"
	@echo "make bench  - slow simulation tests, standard benchmark suites and speed benchmarks"
	@echo "make docs   - build the documentation site into docs/_build/html"
	@echo "make lint   - ruff and mypy"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/spimpact demo --out spimpact-demo

# The report's browser test renders report.html in headless Chromium (Debian's
# package, driven over the DevTools protocol). Installed here when missing and we
# can (root with apt-get, as in CI); a no-op when it is already there. Elsewhere the
# test skips and says why (under CI=true it fails instead).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the report's browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else echo "note: chromium is missing; the report's browser test will skip"; fi; }

test: $(STAMP) browser
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n $(WORKERS) --durations=15

PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed

$(PEERS_STAMP): benchmarks/peers.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet -r benchmarks/peers.txt
	touch $(PEERS_STAMP)

bench: $(STAMP) $(PEERS_STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(WORKERS) -m slow
	$(BIN)/spimpact bench --suite all --out benchmarks/results --docs docs/bench_results.md
	SPIMPACT_PEER_PYTHON=$(abspath $(PEERS))/bin/python $(BIN)/python benchmarks/run_all.py

docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

lint: $(STAMP)
	$(BIN)/ruff check spimpact tests benchmarks vignettes
	$(BIN)/mypy spimpact

clean:
	rm -rf $(VENV) $(PEERS) docs/_build spimpact-demo .pytest_cache
