#!/bin/sh
# The container's web start: refuse to serve unless the database is reachable and
# migrated (scripts/preflight.py says what to run otherwise) and the production settings
# pass Django's deployment checks (HSTS, secure cookies, CSP, secret key, second
# factor...), then hand the process over to gunicorn. Migrations are a separate
# release step.
set -eu
python scripts/preflight.py
python manage.py check --deploy --fail-level WARNING
exec gunicorn -c deploy/gunicorn.conf.py ptsdinfo.wsgi
