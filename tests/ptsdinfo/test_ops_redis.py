"""The site on a real Redis (REDIS_URL): pages render and are cached there, a publish
invalidates them, and a Redis that stops answering never takes pages down.

Needs Redis on 127.0.0.1:6379 (database 9 here). Under CI a missing Redis is a
failure (.ci/run starts one); elsewhere these tests skip.
"""

import os
import subprocess
import sys
import uuid

import pytest
from django.core.cache import caches

from publicsite import caching
from tests.factories import import_article, publish, write_article

REDIS_URL = "redis://127.0.0.1:6379/9"


def redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as error:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI and is not answering on {REDIS_URL}: {error}")
        pytest.skip(f"no Redis on {REDIS_URL}")


def redis_caches(prefix: str, location: str = REDIS_URL) -> dict:
    options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    return {
        alias: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"{prefix}-{alias}",
            "OPTIONS": options,
        }
        for alias in ("default", "publication")
    }


@pytest.fixture
def on_redis(settings, monkeypatch, django_capture_on_commit_callbacks):
    """Both cache aliases on Redis db 9 under a key prefix of this test's own; pages are
    served and stored as outside a transaction (see tests/publicsite/test_caching.py)."""
    redis_or_skip()
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = redis_caches(prefix)
    monkeypatch.setattr(caching, "_inside_transaction", lambda: False)
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def test_settings_with_redis_url_use_the_redis_backend_and_it_imports():
    code = (
        "import django; django.setup();"
        "from django.conf import settings; from django.core.cache import caches;"
        "print(settings.CACHES['default']['BACKEND']);"
        "print(type(caches['default']._cache.get_client).__name__)"
    )
    env = {**os.environ, "REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "ptsdinfo.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout

    assert "django.core.cache.backends.redis.RedisCache" in out


@pytest.mark.django_db
def test_pages_render_and_are_cached_in_redis(client, tmp_path, on_redis):
    publish(import_article(write_article(tmp_path / "a")).article)

    listing = client.get("/articles/")
    first = client.get("/articles/test-article/")
    second = client.get("/articles/test-article/")

    assert listing.status_code == 200
    assert first.status_code == 200 and first["X-Cache"] == "miss"
    assert second.status_code == 200 and second["X-Cache"] == "hit"
    assert second.content == first.content
    assert caches["default"]._cache.get_client().dbsize() > 0


@pytest.mark.django_db
def test_a_publish_invalidates_the_pages_cached_in_redis(client, tmp_path, on_redis):
    article = import_article(write_article(tmp_path / "a")).article
    publish(article)
    before = client.get("/articles/test-article/")
    assert client.get("/articles/test-article/")["X-Cache"] == "hit"
    generation = caching.public_generation()

    import_article(write_article(tmp_path / "b", title="Test article, revised"))
    article.refresh_from_db()
    with on_redis():
        publish(article, change_summary="Revised.")
    after = client.get("/articles/test-article/")

    assert caching.public_generation() > generation
    assert after["X-Cache"] == "miss"
    assert b"Test article, revised" in after.content
    assert b"Test article, revised" not in before.content


@pytest.mark.django_db
def test_pages_are_served_when_redis_does_not_answer(client, tmp_path, settings, monkeypatch):
    """A stopped Redis (nothing listening): pages render directly, publishing still works."""
    import socket

    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = redis_caches("down", location=f"redis://127.0.0.1:{port}/9")
    monkeypatch.setattr(caching, "_inside_transaction", lambda: False)
    article = import_article(write_article(tmp_path / "a")).article
    publish(article)

    pages = [client.get(url) for url in ("/", "/articles/", "/articles/test-article/")]
    caching.public_invalidate(paths=["/articles/test-article/"])

    assert [page.status_code for page in pages] == [200, 200, 200]
    assert all("X-Cache" not in page for page in pages)
