# clapmos — `make demo` runs the whole pipeline on a generated corpus, `make test` runs the suite.
# Both create .venv when it is missing and install into it (torch first, in its own step).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CLAPMOS := $(VENV)/bin/clapmos
STAMP  := $(VENV)/.clapmos-installed
DEMO   ?= demo
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

.PHONY: install test test-slow demo benchmarks clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	# torch alone first: on the project machines this takes the local CPU wheel of exactly 2.13.0
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[clap,dask,test]"
	@touch $(STAMP)

# Debian's chromium and its WebDriver for tests/test_report_browser.py (the report page opened in a real browser);
# installed once when missing and the session may use apt-get (root). Without them that test is skipped, saying why.
BROWSER_STAMP := $(VENV)/.clapmos-browser

$(BROWSER_STAMP): | $(STAMP)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1) || \
		echo "could not install chromium: tests/test_report_browser.py will be skipped"; \
	else echo "no chromium (apt-get install chromium chromium-driver): tests/test_report_browser.py will be skipped"; fi
	@touch $@

# random test order (pytest-randomly prints the seed; repeat an order with -p randomly --randomly-seed=N)
# CLAPMOS_THREADS=1: one thread per fit and embed (--threads default), as on the shared CI machines.
# TEST_WORKERS: pytest-xdist processes, one per core by default (`make test TEST_WORKERS=0` runs in this process);
# each test file runs whole in one worker (--dist loadfile), so a file's shared fixtures are built once.
TEST_WORKERS ?= auto
PYTEST := $(OFFLINE) CLAPMOS_THREADS=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test: install $(BROWSER_STAMP)
	$(PYTEST)

test-slow: install
	$(PYTEST) -m slow

# The whole pipeline on a generated corpus (MusicEval layout, spectral embedder): about a minute.
demo: install
	$(OFFLINE) $(CLAPMOS) make-demo $(DEMO)/corpus
	$(OFFLINE) $(CLAPMOS) embed --corpus musiceval --root $(DEMO)/corpus --embedder spectral --frames --out $(DEMO)/store.zarr
	$(OFFLINE) $(CLAPMOS) info $(DEMO)/store.zarr
	$(OFFLINE) $(CLAPMOS) fit --store $(DEMO)/store.zarr --embedder spectral --head spo_mlp --cv 5 --eval-split dev --out $(DEMO)/run
	$(OFFLINE) $(CLAPMOS) predict --model $(DEMO)/run --store $(DEMO)/store.zarr --split dev --format audiomos --out $(DEMO)/answer.txt
	$(OFFLINE) $(CLAPMOS) evaluate --pred $(DEMO)/answer.txt --store $(DEMO)/store.zarr --split dev
	$(OFFLINE) $(CLAPMOS) score --model $(DEMO)/run $(DEMO)/corpus/wav --system-from '-(S\d+)_' --out $(DEMO)/scores.csv
	$(OFFLINE) $(CLAPMOS) report $(DEMO)/run
	@echo "demo finished: store $(DEMO)/store.zarr, run $(DEMO)/run, submission $(DEMO)/answer.txt, report $(DEMO)/answer_eval/, scores $(DEMO)/scores.csv, page $(DEMO)/run_report.html"

benchmarks: install
	$(OFFLINE) $(PY) benchmarks/run_all.py

clean:
	rm -rf $(DEMO) .pytest_cache
