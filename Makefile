# Everyday commands; each one is also written out in CONTRIBUTING.md.
PY ?= .venv/bin/python

.PHONY: install dev test test-all lint format bench

install:  ## a virtual environment with ordersync and its development tools
	python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'

dev:  ## the whole service on this machine (embedded PostgreSQL, sandbox, workers, web)
	$(PY) manage.py demo

test:  ## the fast set: every test but the end-to-end ones, in parallel
	$(PY) -m pytest

test-all:  ## every test, in CI's two stages: the fast set, then the end-to-end set
	$(PY) -m pytest
	$(PY) -m pytest -m e2e

lint:  ## what CI checks before the tests
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -q -p no:cacheprovider tests/foundation/test_import_rule.py  # imports one way

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench:  ## every benchmark part; writes docs/benchmarks.md
	$(PY) manage.py bench
