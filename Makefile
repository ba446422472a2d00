# homelog: `make run` sets everything up and serves on http://127.0.0.1:8000; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test test-fast screenshots browser lint format install install-dev clean bench \
	i18n-extract i18n-update i18n-compile

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## Create the venv, migrate the SQLite database under instance/, serve with gunicorn.
run: install
	HOMELOG_ENV=$${HOMELOG_ENV:-development} $(BIN)/flask db upgrade
	HOMELOG_ENV=$${HOMELOG_ENV:-development} $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## Test processes (pytest-xdist): two, one per core of a small machine; TEST_JOBS= runs one.
TEST_JOBS ?= -n 2

## The whole suite: on SQLite, then on PostgreSQL too when TEST_DATABASE_URL is set. Browser
## tests (tests/e2e) run once, in the last pass; without Chromium they are skipped with one
## loud line at the end (with CI=true a missing browser fails the run).
test: install-dev browser
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== The suite on SQLite (browser tests run in the PostgreSQL pass) =="; \
		HOMELOG_TEST_BACKEND=sqlite $(BIN)/pytest $(TEST_JOBS) -m "not e2e" $(PYTEST_ARGS) || exit $$?; \
		echo "== The same suite on PostgreSQL, browser tests included =="; \
		HOMELOG_TEST_BACKEND=postgresql $(BIN)/pytest $(TEST_JOBS) $(PYTEST_ARGS); \
	else \
		HOMELOG_TEST_BACKEND=sqlite $(BIN)/pytest $(TEST_JOBS) $(PYTEST_ARGS); \
	fi

## The quick inner loop: SQLite only, no browser and no gunicorn fault tests, two processes,
## stops at the first failure.
test-fast: install-dev
	HOMELOG_TEST_BACKEND=sqlite $(BIN)/pytest $(TEST_JOBS) -m "not e2e" --ignore=tests/faults -x $(PYTEST_ARGS)

## Refresh the README's screenshots (docs/screenshots/) from the browser tests that take them.
screenshots: install-dev browser
	HOMELOG_DOCS_SCREENSHOTS=1 HOMELOG_TEST_BACKEND=sqlite $(BIN)/pytest -m e2e $(PYTEST_ARGS)

## Debian's Chromium for the browser tests, installed when this machine can (root + apt-get).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "== Installing Debian's chromium for the browser tests =="; \
			( timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 \
			  apt-get install -y -qq chromium fonts-dejavu-core >/dev/null ) \
			|| echo "!!! Could not install chromium: the browser tests will be skipped !!!"; \
		else \
			echo "!!! /usr/bin/chromium is missing (apt-get install chromium): browser tests will be skipped !!!"; \
		fi; \
	fi

## Benchmarks (not part of CI; needs wrk): fill the PostgreSQL benchmark database (once per
## size), then load gunicorn with wrk and record the run in bench/results/. See bench/README.md.
BENCH_READINGS ?= 10000000
bench: install
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
	$(BIN)/python bench/datagen.py --readings $(BENCH_READINGS)
	$(BIN)/python bench/run.py --readings $(BENCH_READINGS) $(BENCH_ARGS)

## Translations (homelog/translations): extract the marked text from the code and templates,
## merge it into every language's messages.po, compile the .mo files the app reads (they are
## committed, so a deploy needs no build step; a test fails when one is stale).
I18N := homelog/translations
i18n-extract: install-dev
	$(BIN)/pybabel extract -F $(I18N)/babel.cfg -k _l -k ngettext:1,2 --add-location=file \
		--sort-by-file --omit-header -o $(I18N)/messages.pot .

i18n-update: i18n-extract
	$(BIN)/pybabel update -i $(I18N)/messages.pot -d $(I18N) --no-fuzzy-matching \
		--ignore-obsolete

i18n-compile: install-dev
	$(BIN)/pybabel compile -d $(I18N) --statistics

## Lint rules, import order and formatting (ruff format, 100 columns) are checked by a tool.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
