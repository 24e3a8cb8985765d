# Gongkai: every set-up step a fresh Debian 12 machine needs, in one place.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# The demo's WeChat sandbox: the emulator from tests/fakes/wechat.py (see deploy/demo.sh).
WECHAT_PORT ?= 8001
# Debian packages: a CJK font embedded in the notice PDFs; poppler to check them in tests;
# chromium for the console's browser test (Playwright drives Debian's build).
DEB_PACKAGES := fonts-wqy-zenhei poppler-utils chromium

.PHONY: demo test lint typecheck unit bench system-deps clean

demo: system-deps $(STAMP)  ## Set up everything, load the demo data, serve on http://127.0.0.1:8000
	BIN=$(BIN) HOST=$(HOST) PORT=$(PORT) WECHAT_PORT=$(WECHAT_PORT) sh deploy/demo.sh

test: system-deps $(STAMP) lint typecheck  ## Lint, type-check and run the whole suite (SQLite and PostgreSQL)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)  ## The fast tests only
	$(BIN)/python -m pytest tests/unit

bench: system-deps $(STAMP)  ## Benchmarks: print figures as ratios against a same-run baseline
	$(BIN)/python -m tests.bench

system-deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	sh deploy/fonts/install.sh  # the report's official fonts' free stand-ins, and LibreOffice

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
