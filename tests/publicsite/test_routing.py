"""The read-replica router (ptsdinfo/routers.py): public reads go to "replica", everything
else to "default".

The "replica" alias here is a second connection wrapper around the test database's own
connection (so it sees the test's data inside the test transaction), which makes it
observable which alias ran each query, exactly as it would be against a real replica.
"""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from articles.models import Article
from ptsdinfo import routers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def replica(db, settings):
    """A "replica" alias pointing at the test database, with the router and middleware on."""
    connections.settings[routers.REPLICA] = copy.deepcopy(connections["default"].settings_dict)
    settings.DATABASE_ROUTERS = ["ptsdinfo.routers.PrimaryReplicaRouter"]
    settings.MIDDLEWARE = ["ptsdinfo.routers.public_reads_middleware", *settings.MIDDLEWARE]
    caches["default"].clear()
    primary = connections["default"]
    primary.ensure_connection()
    wrapper = connections[routers.REPLICA]
    wrapper.connection = primary.connection  # same session: sees uncommitted test data
    try:
        yield wrapper
    finally:
        wrapper.connection = None  # the primary's connection stays open for the test
        del connections[routers.REPLICA]
        del connections.settings[routers.REPLICA]


def _queries(client, url, **extra):
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[routers.REPLICA]) as replica,
    ):
        response = client.get(url, **extra)
    return response, len(primary), len(replica)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "kwargs", "query"),
    [
        ("articles:detail", {"slug": "test-article"}, ""),
        ("home", {}, ""),
        ("articles:list", {}, ""),
        ("articles:search", {}, "?q=ketamine"),
    ],
)
def test_public_pages_read_from_the_replica(
    client, replica, published_article, name, kwargs, query
):
    response, on_primary, on_replica = _queries(client, reverse(name, kwargs=kwargs) + query)

    assert response.status_code == 200
    assert on_replica >= 1
    assert on_primary == 0


@pytest.mark.django_db
def test_signed_in_users_read_from_the_primary_even_on_public_pages(
    admin_client, replica, published_article
):
    response, on_primary, on_replica = _queries(admin_client, published_article.get_absolute_url())

    assert response.status_code == 200
    assert on_primary >= 1
    assert on_replica == 0


@pytest.mark.django_db
def test_admin_pages_use_the_primary(admin_client, replica, published_article):
    response, on_primary, on_replica = _queries(
        admin_client, reverse("admin:articles_article_changelist")
    )

    assert response.status_code == 200
    assert on_primary >= 1
    assert on_replica == 0


@pytest.mark.django_db
def test_admin_login_page_uses_the_primary_without_a_session(client, replica):
    # No session cookie yet, but sign-in must see what the throttling just wrote.
    with CaptureQueriesContext(connections[routers.REPLICA]) as on_replica:
        client.get(reverse("admin:login"))
        client.post(reverse("admin:login"), {"username": "nobody", "password": "wrong-guess"})

    assert len(on_replica) == 0


@pytest.mark.django_db
def test_reads_outside_a_request_use_the_primary(replica, published_article):
    with CaptureQueriesContext(connections[routers.REPLICA]) as on_replica:
        assert Article.objects.get(slug="test-article").live_version_id

    assert len(on_replica) == 0


def test_writes_go_to_the_primary_even_inside_a_public_read(replica):
    router = routers.PrimaryReplicaRouter()
    token = routers._public_read.set(True)
    try:
        assert router.db_for_read(Article) == "replica"
        assert router.db_for_write(Article) == "default"
    finally:
        routers._public_read.reset(token)


def test_without_a_replica_public_reads_use_the_primary():
    router = routers.PrimaryReplicaRouter()
    token = routers._public_read.set(True)
    try:
        assert router.db_for_read(Article) == "default"
    finally:
        routers._public_read.reset(token)


def test_migrations_run_on_the_primary_only():
    router = routers.PrimaryReplicaRouter()

    assert router.allow_migrate("default", "articles") is True
    assert router.allow_migrate("replica", "articles") is False


@pytest.mark.parametrize(
    ("method", "path", "cookies", "expected"),
    [
        ("GET", "/articles/x/", {}, True),
        ("HEAD", "/", {}, True),
        ("POST", "/articles/x/", {}, False),
        ("GET", "/articles/x/", {"sessionid": "abc"}, False),
        ("GET", "/admin/", {}, False),
        ("GET", "/editor/markdownify/", {}, False),
    ],
)
def test_which_requests_count_as_public_reads(rf, method, path, cookies, expected):
    request = rf.generic(method, path)
    request.COOKIES.update(cookies)

    assert routers.is_public_read(request) is expected


def _settings_in_subprocess(env_extra: dict) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URL"}
    env.update(env_extra, DJANGO_SETTINGS_MODULE="ptsdinfo.settings")
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(sorted(s.DATABASES), s.DATABASE_ROUTERS, s.MIDDLEWARE[0])"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_replica_url_wires_the_alias_router_and_middleware():
    out = _settings_in_subprocess(
        {"DATABASE_REPLICA_URL": "postgres://reader@replica.internal:5432/ptsdinfo"}
    )

    assert "['default', 'replica']" in out
    assert "ptsdinfo.routers.PrimaryReplicaRouter" in out
    assert "ptsdinfo.routers.public_reads_middleware" in out


def test_without_replica_url_nothing_is_routed():
    out = _settings_in_subprocess({})

    assert "['default']" in out
    assert "[]" in out
    assert "public_reads_middleware" not in out
