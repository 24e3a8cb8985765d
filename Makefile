# Gongkai: every set-up step a fresh Debian 12 machine needs, in one place.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST   ?= 127.0.0.1
PORT   ?= 8000
# The demo's WeChat sandbox: the emulator from tests/fakes/wechat.py (see deploy/demo.sh).
WECHAT_PORT ?= 8001
# Test processes: one per core (pytest-xdist); `make test JOBS=1` runs in one process.
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
# Debian packages the service needs: a CJK font embedded in the notice PDFs and covers.
DEB_PACKAGES := fonts-wqy-zenhei
# ...and those only the tests need: poppler to check the PDFs, chromium for the console's
# browser test (Playwright drives Debian's build). deploy/fonts/install.sh adds the report's
# fonts and LibreOffice, which only the annual report's PDF test uses.
TEST_DEB_PACKAGES := poppler-utils chromium

.PHONY: demo test lint typecheck imports unit bench migration lock system-deps test-deps clean

demo: system-deps $(STAMP)  ## Set up what the service needs, load the demo data, serve on http://127.0.0.1:8000
	BIN=$(BIN) HOST=$(HOST) PORT=$(PORT) WECHAT_PORT=$(WECHAT_PORT) sh deploy/demo.sh

test: test-deps $(DEV_STAMP) lint typecheck  ## Lint, type-check and run the whole suite (SQLite and PostgreSQL)
	$(BIN)/python -m pytest -n $(JOBS) --dist worksteal

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)  ## mypy (strict) over the code and the tests
	$(BIN)/mypy

imports: $(DEV_STAMP)  ## The layering contracts alone (the suite runs them too)
	$(BIN)/lint-imports --no-cache

unit: $(DEV_STAMP)  ## The fast tests only
	$(BIN)/python -m pytest tests/unit

bench: test-deps $(DEV_STAMP)  ## Benchmarks: print figures as ratios against a same-run baseline
	$(BIN)/python -m tests.bench

migration: $(DEV_STAMP)  ## Write storage/migrations/NNNN_NAME.py from the models' changes: make migration NAME=what
	@test -n "$(NAME)" || { echo "usage: make migration NAME=short_name" >&2; exit 2; }
	mkdir -p data
	$(BIN)/python -m tortoise -c storage.db.DEV_CONFIG makemigrations --name "$(NAME)"

lock: $(DEV_STAMP)  ## Re-pin requirements/*.txt after changing pyproject.toml's dependencies
	$(BIN)/pip-compile -q --no-emit-index-url --no-emit-find-links --strip-extras --allow-unsafe -o requirements/base.txt pyproject.toml
	$(BIN)/pip-compile -q --no-emit-index-url --no-emit-find-links --strip-extras --allow-unsafe --extra dev -o requirements/dev.txt pyproject.toml

system-deps:
	@sh deploy/apt-install.sh $(DEB_PACKAGES)

test-deps: system-deps
	@sh deploy/apt-install.sh $(TEST_DEB_PACKAGES)
	sh deploy/fonts/install.sh  # the report's official fonts' free stand-ins, and LibreOffice

# Installs the pinned versions (requirements/*.txt, written by `make lock`).
$(STAMP): pyproject.toml requirements/base.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements/base.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(DEV_STAMP): $(STAMP) requirements/dev.txt
	$(BIN)/python -m pip install -q -r requirements/dev.txt
	touch $@

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
