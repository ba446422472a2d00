# homelog: `make run` sets everything up and serves on http://127.0.0.1:8000; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test lint format install install-dev e2e clean bench

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

## The whole suite on SQLite, then again on PostgreSQL when TEST_DATABASE_URL is set.
test: install-dev
	HOMELOG_TEST_BACKEND=sqlite $(BIN)/pytest $(PYTEST_ARGS)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== The same suite on PostgreSQL ($$TEST_DATABASE_URL) =="; \
		HOMELOG_TEST_BACKEND=postgresql $(BIN)/pytest $(PYTEST_ARGS); \
	fi

## Benchmarks (not part of CI; needs wrk): fill the PostgreSQL benchmark database (once per
## size), then load gunicorn with wrk and record the run in bench/results/. See bench/README.md.
BENCH_READINGS ?= 10000000
bench: install
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
	$(BIN)/python bench/datagen.py --readings $(BENCH_READINGS)
	$(BIN)/python bench/run.py --readings $(BENCH_READINGS) $(BENCH_ARGS)

## Lint rules, import order and formatting (ruff format, 100 columns) are checked by a tool.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
