# syntax=docker/dockerfile:1
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app
# gettext (msgfmt) compiles the Spanish interface catalogue below (locale/). Not pinned:
# it follows the base image's Debian release, as its security updates do.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app

# Dependencies first, so code changes do not reinstall them.
COPY requirements.txt .
RUN pip install --no-cache-dir --require-hashes -r requirements.txt

# The code and the collected static files belong to root and are read-only to the app
# user: a compromised worker cannot rewrite the site. Only the two volumes below are
# writable by it: uploads (/app/media) and, when no DATABASE_URL is given, the SQLite
# database (/app/data).
COPY . .
RUN DJANGO_SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput -v0 \
    && DJANGO_SECRET_KEY=build-only-collectstatic python manage.py compilemessages -v0 \
    && chmod -R go-w /app \
    && mkdir -p /app/media /app/data /var/cache/ptsdinfo \
    && chown app:app /app/media /app/data /var/cache/ptsdinfo \
    && chmod 0750 /app/media /app/data \
    && chmod 0755 /var/cache/ptsdinfo

# Without nginx in front, the app serves /media/ itself (ptsdinfo/media.py); behind the
# shipped nginx, nginx serves it from the same volume and this changes nothing.
ENV DJANGO_MEDIA_ROOT=/app/media \
    PTSDINFO_SERVE_MEDIA=true \
    DATABASE_URL=sqlite:////app/data/db.sqlite3
VOLUME ["/app/media", "/app/data"]

USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4).status != 200)"]

# Migrations are a separate release step (see README), never part of the web start.
# The start script runs `check --deploy --fail-level WARNING` first: a container with
# unsafe production settings exits instead of serving (docs/security.md).
CMD ["sh", "scripts/start-web.sh"]
