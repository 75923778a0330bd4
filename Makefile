# `make run` serves the demo site on http://127.0.0.1:$(PORT) (SQLite); `make test` runs the suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# The first interpreter that is Python 3.12 or newer (pyenv honours .python-version).
BOOTSTRAP_PY := $(shell for p in python3 python3.13 python3.12 python3.14 python; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; \
	then echo $$p; break; fi; done)

.PHONY: run test lint format check-python clean

check-python:
	@if [ ! -x $(PY) ] && [ -z "$(BOOTSTRAP_PY)" ]; then \
		echo "ptsdinfo needs Python 3.12 or newer: install python3.12+ (or pyenv) and retry." >&2; exit 1; fi
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		echo "$(VENV) was made with Python older than 3.12: run 'make clean' and retry." >&2; exit 1; fi

$(PY): | check-python
	$(BOOTSTRAP_PY) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

run: check-python $(VENV)/.runtime
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py load_demo
	$(PY) manage.py collectstatic --noinput -v0
	@echo ""
	@echo "ptsdinfo is running:"
	@echo "  site:    http://127.0.0.1:$(PORT)/"
	@echo "  article: http://127.0.0.1:$(PORT)/articles/ketamine-for-ptsd/"
	@echo "  admin:   http://127.0.0.1:$(PORT)/admin/"
	@echo "  demo logins: admin, author, reviewer, publisher (password: ptsdinfo-demo)"
	@echo ""
	$(VENV)/bin/gunicorn ptsdinfo.wsgi --bind 127.0.0.1:$(PORT) --workers 2 --access-logfile -

test: check-python $(VENV)/.dev
	$(PY) -m pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint Dockerfile

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
