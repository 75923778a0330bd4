"""/healthz stays cheap and public; /readyz tells operators which part is not ready;
a database without its tables says to run the migrations."""

import json
import os
import socket
import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

REMOTE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture(autouse=True)
def writable_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db
def test_healthz_is_public_and_costs_one_query(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz", **REMOTE)

    assert response.status_code == 200
    assert len(queries) == 1


@pytest.mark.django_db
def test_readyz_from_this_machine_reports_every_part(client):
    response = client.get("/readyz", REMOTE_ADDR="127.0.0.1")

    report = response.json()
    assert response.status_code == 200
    assert report["status"] == "ok" and report["failing"] == []
    assert set(report["checks"]) >= {"database", "cache", "migrations", "media"}
    assert all(part["ok"] for part in report["checks"].values())
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "meta",
    [
        REMOTE,
        # relayed by the local nginx: loopback, but on behalf of someone else
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},
    ],
)
def test_readyz_is_hidden_from_the_public(client, meta):
    assert client.get("/readyz", **meta).status_code == 404


@pytest.mark.django_db
def test_readyz_answers_anywhere_with_the_operator_token(client, settings):
    settings.PTSDINFO_READYZ_TOKEN = "s3cret-token"

    wrong = client.get("/readyz", headers={"Authorization": "Bearer nope"}, **REMOTE)
    right = client.get("/readyz", headers={"Authorization": "Bearer s3cret-token"}, **REMOTE)

    assert wrong.status_code == 404
    assert right.status_code == 200


@pytest.mark.django_db
def test_readyz_names_an_unwritable_media_directory(client, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = blocker

    response = client.get("/readyz", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 503
    assert response.json()["failing"] == ["media"]
    assert response.json()["checks"]["media"]["path"] == str(blocker)


@pytest.mark.django_db
def test_readyz_names_an_unreachable_cache(client, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/9",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }

    response = client.get("/readyz", REMOTE_ADDR="127.0.0.1")

    report = response.json()
    assert response.status_code == 503
    assert report["failing"] == ["cache"]
    assert "default" in report["checks"]["cache"]["error"]


# --- a database before `migrate` ---------------------------------------------------------

FRESH_SITE = """
import django, json
django.setup()
from django.test import Client
client = Client()
out = {}
for url in ("/", "/articles/", "/healthz", "/readyz"):
    r = client.get(url, REMOTE_ADDR="127.0.0.1")
    out[url] = [r.status_code, r.content.decode()]
print(json.dumps(out))
"""


def fresh_site(database_url: str, tmp_path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "ptsdinfo.settings",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "PTSDINFO_PUBLICATION_CACHE_DIR": str(tmp_path / "generation"),
        "DJANGO_LOG_LEVEL": "CRITICAL",
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", FRESH_SITE], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_says_to_migrate(pages: dict) -> None:
    for url in ("/", "/articles/"):
        status, body = pages[url]
        assert status == 503, (url, body)
        assert "manage.py migrate" in body
        assert "database unavailable" not in body.lower()
    assert pages["/healthz"][0] == 200  # the database answers: the node is alive
    status, body = pages["/readyz"]
    assert status == 503
    assert json.loads(body)["failing"] == ["migrations"]


def test_before_migrations_sqlite_pages_say_to_run_them(tmp_path):
    assert_says_to_migrate(fresh_site(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path))


@pytest.mark.postgres
def test_before_migrations_postgres_pages_say_to_run_them(tmp_path):
    import psycopg

    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    name = f"ptsdinfo_fresh_{os.getpid()}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        assert_says_to_migrate(fresh_site(f"{base}/{name}", tmp_path))
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
