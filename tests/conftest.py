import os

import pytest
from django.core.cache import cache
from django.db import connection

from tests.factories import import_article, make_team, publish, write_article

# Fixtures through which a test reaches the database (pytest-django's, and ours build on them).
DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "live_server"}
)


def uses_database(item) -> bool:
    """Whether a test can touch the database: pytest-django refuses access otherwise."""
    return item.get_closest_marker("django_db") is not None or bool(
        DATABASE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    )


def pytest_collection_modifyitems(config, items):
    """Postgres-only tests skip on SQLite (the PostgreSQL run covers them).

    With PTSDINFO_TESTS=database-only, only tests that touch the database run: CI's
    second pass on PostgreSQL skips the pure tests and the browser tests (whose site
    is always SQLite), which the first pass already ran.
    """
    if os.environ.get("PTSDINFO_TESTS") == "database-only":
        config.hook.pytest_deselected(items=[item for item in items if not uses_database(item)])
        items[:] = [item for item in items if uses_database(item)]
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    """Tests render templates without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty default cache: rate-limit counters and cached
    pages from earlier tests would otherwise decide its outcome by test order. (Only
    before: a test may leave the cache pointing at a Redis it has stopped.)"""
    cache.clear()


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the site's language: the locale middleware activates the
    language of the last request's path for the thread, so a test that ended on a
    /es/ page would otherwise leave `reverse()` in the next test prefixing /es/."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs ~0.3 s per user; tests do not test the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team(db):
    """One user per role: author, author2, reviewer, reviewer2, publisher (factories.make_team)."""
    return make_team()


@pytest.fixture
def published_article(db, tmp_path):
    """The factories' test article, imported and published as version 1."""
    article = import_article(write_article(tmp_path)).article
    publish(article)
    article.refresh_from_db()
    return article


def pytest_configure(config):
    """The Spanish interface needs its compiled catalogue (`make compilemessages`, not
    committed): compile it when it is missing or older than the .po."""
    import subprocess
    from pathlib import Path

    messages = Path(__file__).resolve().parent.parent / "locale/es/LC_MESSAGES"
    for po in (messages / "django.po", messages / "djangojs.po"):
        mo = po.with_suffix(".mo")
        if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
            subprocess.run(["msgfmt", "--check", "-o", str(mo), str(po)], check=True)
