# `make run` serves the demo site on http://127.0.0.1:$(PORT) (SQLite); `make test` runs the suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# The first interpreter that is Python 3.12 or newer (pyenv honours .python-version).
BOOTSTRAP_PY := $(shell for p in python3 python3.13 python3.12 python3.14 python; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; \
	then echo $$p; break; fi; done)

.PHONY: run test lint format check-python clean node-tools lock audit messages compilemessages

# axe-core and the Nu HTML Checker for the browser tests: pinned, from the npm
# registry, into a git-ignored folder; installed again only when the pins change.
NODE_TOOLS := .cache/node
NODE_PACKAGES := axe-core@4.14.1 vnu-jar@26.9.27

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

$(VENV)/.dev: requirements-dev.txt requirements.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

run: check-python $(VENV)/.runtime
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py load_demo
	$(PY) manage.py collectstatic --noinput -v0
	@$(MAKE) --no-print-directory compilemessages
	@echo ""
	@echo "ptsdinfo is running:"
	@echo "  site:    http://127.0.0.1:$(PORT)/"
	@echo "  article: http://127.0.0.1:$(PORT)/articles/ketamine-for-ptsd/"
	@echo "  Spanish: http://127.0.0.1:$(PORT)/es/articles/what-is-ptsd/ (one claim stale)"
	@echo "  admin:   http://127.0.0.1:$(PORT)/admin/"
	@echo "  demo logins: admin, author, reviewer, publisher (password: ptsdinfo-demo)"
	@echo ""
	@# No nginx in front here: the app serves the uploaded images itself (ptsdinfo/media.py).
	PTSDINFO_SERVE_MEDIA=$${PTSDINFO_SERVE_MEDIA:-true} \
	$(VENV)/bin/gunicorn ptsdinfo.wsgi --bind 127.0.0.1:$(PORT) --workers 2 --access-logfile -

test: check-python $(VENV)/.dev node-tools compilemessages
	$(PY) -m pytest

# The Spanish interface catalogue (locale/es/LC_MESSAGES/django.po): `messages` adds
# the strings newly marked in templates and code (then translate every empty msgstr;
# tests/publicsite/test_i18n.py fails until they are), `compilemessages` builds the
# .mo files Django reads (not committed; msgfmt comes with gettext).
MESSAGES_IGNORE = --ignore=".venv/*" --ignore="node_modules/*" --ignore="tests/*" --ignore="static/*" --ignore="staticfiles/*" --ignore="docs/*" --ignore="scripts/*"
# The editor's JavaScript (static/js, gettext from static/js/i18n.js) goes to djangojs.po.
JS_MESSAGES_IGNORE = --ignore=".venv/*" --ignore="node_modules/*" --ignore="tests/*" --ignore="static/css/*" --ignore="static/img/*" --ignore="staticfiles/*" --ignore="docs/*" --ignore="scripts/*"
messages: check-python
	$(PY) manage.py makemessages -l es --no-obsolete $(MESSAGES_IGNORE)
	$(PY) manage.py makemessages -d djangojs -l es --no-obsolete $(JS_MESSAGES_IGNORE)

compilemessages: check-python $(VENV)/.runtime
	@if command -v msgfmt >/dev/null; then $(PY) manage.py compilemessages -v0; \
	elif [ -n "$$CI" ]; then echo "CI needs msgfmt (apt-get install gettext)" >&2; exit 1; \
	else echo "msgfmt not found (install gettext): the Spanish pages will show English text" >&2; fi

node-tools:
	@if [ "$$(cat $(NODE_TOOLS)/.installed 2>/dev/null)" != "$(NODE_PACKAGES)" ]; then \
		if ! command -v npm >/dev/null; then \
			if [ -n "$$CI" ]; then echo "CI needs npm (Node.js) to install $(NODE_PACKAGES)" >&2; exit 1; fi; \
			echo "npm not found: the accessibility and HTML checks in the browser tests will be skipped" >&2; exit 0; \
		fi; \
		mkdir -p $(NODE_TOOLS) && \
		npm install --prefix $(NODE_TOOLS) --no-save --no-package-lock --no-audit --no-fund \
			--ignore-scripts --loglevel=error $(NODE_PACKAGES) && \
		echo "$(NODE_PACKAGES)" > $(NODE_TOOLS)/.installed; \
	fi

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint Dockerfile

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Re-pin requirements*.txt (with hashes) from requirements*.in.
lock: $(PY)
	$(PY) -m pip install -q pip-tools
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe -o requirements.txt requirements.in
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe -o requirements-dev.txt requirements-dev.in

# Known-vulnerability audit of the pinned dependencies (needs PyPI's JSON API or OSV;
# --strict fails when a package could not be checked, so a blind run is never green).
audit: $(PY)
	$(PY) -m pip install -q pip-audit
	$(VENV)/bin/pip-audit --strict --require-hashes -r requirements.txt

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache $(NODE_TOOLS)

# Load test of the public pages (PostgreSQL, gunicorn, nginx, wrk; ~3 minutes); writes
# docs/performance.md. Never part of `make test` or CI. See scripts/bench.py.
.PHONY: bench
bench: check-python $(VENV)/.runtime
	$(PY) scripts/bench.py $(BENCH_ARGS)

# The multi-machine layout on this machine (docs/deployment.md): PostgreSQL primary and
# streaming replica, Redis, two app nodes (gunicorn + nginx), HAProxy in front; loopback
# only, state in .cache/cluster. `make cluster-test` runs the cluster tests against it.
.PHONY: cluster cluster-stop cluster-test
cluster: check-python $(VENV)/.runtime
	timeout 600 $(PY) deploy/cluster.py start

cluster-stop:
	timeout 300 $(PY) deploy/cluster.py stop

cluster-test: $(VENV)/.dev
	timeout 900 $(PY) -m pytest tests/cluster -m cluster -p no:cacheprovider -q
