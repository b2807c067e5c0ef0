# Two commands set up a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test test-slow bench evaluate clean install browser postgres

install: $(STAMP)

# torch first, pinned: an unpinned torch pulled in by transformers would download a multi-GB CUDA build
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

demo: $(STAMP)
	$(BIN)/touchpoint demo

# Headless Chromium and CJK fonts for the report rendering test (Debian's packages; best effort: the test
# says why it skips). Persian is covered by DejaVu Sans, which Debian installs with Chromium.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
browser:
	@{ [ -x /usr/bin/chromium ] && [ -e $(CJK_FONT) ]; } || { command -v apt-get >/dev/null && [ "$$(id -u)" -eq 0 ] && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; } >/dev/null 2>&1; } || \
	  echo "note: chromium or fonts-noto-cjk not installed; the report rendering test will be skipped"

# PostgreSQL server binaries for the shared-store tests (Debian's package; best effort: the test starts its
# own server on 127.0.0.1 as the `postgres` user the package creates, and says why it skips without one)
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { command -v apt-get >/dev/null && [ "$$(id -u)" -eq 0 ] && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >/dev/null 2>&1; } || \
	  echo "note: postgresql not installed; the shared-store tests will be skipped"

# Two pytest-xdist workers, one test file each at a time (a file's module fixtures are built once), in the
# order tests/conftest.py sets (longest first); every
# test sets torch to one thread, so the two workers share the 2-core machine without oversubscribing it.
TEST_WORKERS ?= 2
test: $(STAMP) browser postgres
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py --records 5000

evaluate: $(STAMP)
	$(BIN)/touchpoint models evaluate ../shared/devdata --limit 0

clean:
	rm -rf data/touchpoint.duckdb data/work data/reports
