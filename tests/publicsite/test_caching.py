"""HTTP caching, the application page cache and purging, end to end.

The application cache only serves and stores pages rendered outside a database
transaction (a page rendered inside one could show rolled-back data), and every test
here runs inside the test's transaction. The `page_cache` fixture lifts that guard,
and publishing runs its after-commit invalidation through
`django_capture_on_commit_callbacks(execute=True)`, as a real commit would.
(Transactional tests cannot be used: flushing the SQLite test database deletes rows
the immutability triggers protect.)
"""

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import caches
from django.utils import timezone
from django.utils.http import http_date

from articles.models import Article, ArticleVersion
from articles.roles import PUBLISHERS
from articles.services.versions import version_create, version_publish
from editorial.services.workflow import article_withdraw, publish_scheduled
from publicsite import caching
from tests.factories import import_article, make_user, publish, write_article

PAGES_SHOWING_TITLES = [
    "/",
    "/articles/",
    "/articles/test-article/",
    "/topics/ptsd/",
    "/search/?q=lead",
    "/feed/",
]
PAGES = [
    "/",
    "/articles/",
    "/articles/test-article/",
    "/topics/",
    "/topics/ptsd/",
    "/search/?q=lead",
    "/feed/",
    "/sitemap.xml",
]

# Every test on its own empty caches (tests/publicsite/conftest.py).
pytestmark = pytest.mark.usefixtures("private_caches")


@pytest.fixture
def page_cache(monkeypatch, django_capture_on_commit_callbacks):
    """Serve and store pages as the server does outside a transaction; returns a context
    manager that runs a block's on-commit callbacks (publishing's invalidation)."""
    monkeypatch.setattr(caching, "_inside_transaction", lambda: False)
    return lambda: django_capture_on_commit_callbacks(execute=True)


def live_article(tmp_path, *, slug="test-article", title="Test article", body=None):
    kwargs = {"body": body} if body else {}
    article = import_article(write_article(tmp_path / slug, slug=slug, title=title, **kwargs))
    article = article.article
    publish(article)
    article.refresh_from_db()
    return article


def edit_and_publish(tmp_path, article, *, title, body=None, name="v2"):
    kwargs = {"body": body} if body else {}
    import_article(write_article(tmp_path / name, slug=article.slug, title=title, **kwargs))
    article.refresh_from_db()
    publish(article, change_summary=f"Now {title}.")
    article.refresh_from_db()
    return article


class PurgeRecorder(BaseHTTPRequestHandler):
    def do_PURGE(self):
        self.server.purged.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def purge_server(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), PurgeRecorder)
    server.purged = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.PTSDINFO_PURGE_URLS = [f"http://127.0.0.1:{server.server_address[1]}"]
    yield server
    server.shutdown()
    server.server_close()


# --- HTTP headers and conditional requests ----------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_public_pages_carry_validators_and_public_lifetimes(client, tmp_path, url):
    live_article(tmp_path)

    response = client.get(url)

    assert response.status_code == 200
    assert response["ETag"].startswith('"')
    cache_control = response["Cache-Control"]
    assert "public" in cache_control and "max-age=" in cache_control
    assert "s-maxage=" in cache_control


@pytest.mark.django_db
def test_article_page_last_modified_is_when_its_version_was_published(client, tmp_path):
    article = live_article(tmp_path)

    response = client.get("/articles/test-article/")

    assert response["Last-Modified"] == http_date(article.live_version.published_at.timestamp())


@pytest.mark.django_db
def test_repeated_conditional_request_answers_304(client, tmp_path):
    live_article(tmp_path)
    first = client.get("/articles/test-article/")

    again = client.get("/articles/test-article/", headers={"If-None-Match": first["ETag"]})

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


@pytest.mark.django_db
def test_if_modified_since_answers_304_until_a_new_version_is_published(client, tmp_path):
    article = import_article(write_article(tmp_path)).article
    reviewer = make_user("rev", display_name="Dr Rev", credentials="MD")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    version = version_create(
        article=article, author=None, reviewer=reviewer, approved_at=an_hour_ago
    )
    version_publish(version=version, at=an_hour_ago)
    since = client.get("/articles/test-article/")["Last-Modified"]

    unchanged = client.get("/articles/test-article/", headers={"If-Modified-Since": since})
    article.refresh_from_db()
    edit_and_publish(tmp_path, article, title="Test article, revised")
    changed = client.get("/articles/test-article/", headers={"If-Modified-Since": since})

    assert unchanged.status_code == 304
    assert changed.status_code == 200
    assert b"Test article, revised" in changed.content


@pytest.mark.django_db
@pytest.mark.parametrize("stored", [False, True], ids=["rendered", "from the cache"])
def test_every_precondition_is_honoured(client, tmp_path, request, stored):
    if stored:
        request.getfixturevalue("page_cache")
    live_article(tmp_path)
    url = "/articles/test-article/"
    first = client.get(url)
    etag, modified = first["ETag"], first["Last-Modified"]
    served_from = "hit" if stored else None  # rendered inside the test's transaction
    assert client.get(url).get("X-Cache") == served_from
    earlier = http_date(time.time() - 86400 * 365)

    def status(**headers):
        response = client.get(url, headers=headers)
        if response.status_code == 200:  # a 304 or 412 carries no X-Cache
            assert response.get("X-Cache") == served_from
        return response.status_code

    assert status() == 200
    assert status(**{"If-None-Match": etag}) == 304
    assert status(**{"If-Modified-Since": modified}) == 304
    assert status(**{"If-Match": etag}) == 200
    assert status(**{"If-Match": '"not-it"'}) == 412
    assert status(**{"If-Unmodified-Since": modified}) == 200
    assert status(**{"If-Unmodified-Since": earlier}) == 412


@pytest.mark.django_db
def test_stale_etag_gets_the_new_page(client, tmp_path):
    live_article(tmp_path)
    old = client.get("/articles/test-article/")["ETag"]

    response = client.get("/articles/test-article/", headers={"If-None-Match": '"not-it"'})

    assert response.status_code == 200
    assert response["ETag"] == old


@pytest.mark.django_db
def test_staff_get_fresh_private_pages(client, tmp_path):
    live_article(tmp_path)
    client.force_login(make_user("staffer"))

    response = client.get("/articles/test-article/")

    assert response.status_code == 200
    assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    assert "X-Cache" not in response


# --- the application cache ---------------------------------------------------------------


@pytest.mark.django_db
def test_cached_article_page_costs_no_query(
    client, tmp_path, page_cache, django_assert_num_queries
):
    with page_cache():
        live_article(tmp_path)
    first = client.get("/articles/test-article/")
    assert first["X-Cache"] == "miss"

    with django_assert_num_queries(0):
        second = client.get("/articles/test-article/")

    assert second["X-Cache"] == "hit"
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_every_cached_public_page_costs_no_query(
    client, tmp_path, page_cache, url, django_assert_num_queries
):
    with page_cache():
        live_article(tmp_path)
    client.get(url)

    with django_assert_num_queries(0):
        response = client.get(url)

    assert response["X-Cache"] == "hit"


@pytest.mark.django_db
def test_cached_page_still_answers_conditional_requests(
    client, tmp_path, page_cache, django_assert_num_queries
):
    with page_cache():
        live_article(tmp_path)
    etag = client.get("/articles/test-article/")["ETag"]

    with django_assert_num_queries(0):
        response = client.get("/articles/test-article/", headers={"If-None-Match": etag})

    assert response.status_code == 304


@pytest.mark.django_db
def test_no_stale_page_survives_a_publish(client, tmp_path, page_cache):
    with page_cache():
        article = live_article(tmp_path)
    for url in PAGES:
        client.get(url)
    assert all(client.get(url)["X-Cache"] == "hit" for url in PAGES)

    with page_cache():
        edit_and_publish(tmp_path, article, title="Lead changes everything")

    for url in PAGES:
        assert client.get(url)["X-Cache"] == "miss", url
    for url in PAGES_SHOWING_TITLES:
        assert b"Lead changes everything" in client.get(url).content, url


@pytest.mark.django_db
def test_withdrawal_takes_the_article_out_of_every_cached_page(client, tmp_path, page_cache):
    with page_cache():
        article = live_article(tmp_path)
    for url in PAGES:
        client.get(url)

    with page_cache():
        article_withdraw(
            article=article, user=make_user("pub", groups=[PUBLISHERS]), reason="Out of date."
        )

    assert client.get("/articles/test-article/").status_code == 410
    for url in ("/", "/articles/", "/search/?q=lead", "/feed/", "/sitemap.xml"):
        assert b"test-article" not in client.get(url).content, url
    assert client.get("/topics/ptsd/").status_code == 404


@pytest.mark.django_db
def test_scheduled_publication_invalidates_cached_pages(client, tmp_path, page_cache):
    with page_cache():
        article = live_article(tmp_path)
    import_article(write_article(tmp_path / "v2", slug=article.slug, title="Scheduled title"))
    article.refresh_from_db()
    version = version_create(article=article, author=None, reviewer=article.live_version.reviewer)
    Article.objects.filter(pk=article.pk).update(status=Article.Status.APPROVED)
    go_live = timezone.now() + timedelta(minutes=5)
    ArticleVersion.objects.filter(pk=version.pk).update(scheduled_for=go_live)
    assert b"Scheduled title" not in client.get("/articles/test-article/").content
    assert client.get("/articles/test-article/")["X-Cache"] == "hit"

    with page_cache():
        published = publish_scheduled(now=go_live)

    assert [v.pk for v in published] == [version.pk]
    assert b"Scheduled title" in client.get("/articles/test-article/").content


@pytest.mark.django_db
def test_pages_are_never_served_from_the_cache_to_staff(client, tmp_path, page_cache):
    with page_cache():
        live_article(tmp_path)
    client.get("/articles/test-article/")  # cached for anonymous readers
    client.force_login(make_user("staffer"))

    response = client.get("/articles/test-article/")

    assert "X-Cache" not in response
    assert "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_tracking_parameters_share_the_cached_page_but_search_terms_do_not(
    client, tmp_path, page_cache
):
    with page_cache():
        live_article(tmp_path)
    client.get("/articles/test-article/")

    assert client.get("/articles/test-article/?utm_source=x")["X-Cache"] == "hit"
    client.get("/search/?q=lead")
    assert client.get("/search/?q=lead&utm_source=x")["X-Cache"] == "hit"
    assert client.get("/search/?q=other")["X-Cache"] == "miss"


@pytest.mark.django_db
def test_not_found_pages_are_not_cached(client, tmp_path, page_cache):
    assert client.get("/articles/test-article/").status_code == 404

    live_article(tmp_path)  # the slug now exists (no invalidation needed for a 404)

    assert client.get("/articles/test-article/").status_code == 200


@pytest.mark.django_db
def test_pages_rendered_inside_a_transaction_are_not_cached(client, tmp_path):
    live_article(tmp_path)

    client.get("/articles/test-article/")

    assert "X-Cache" not in client.get("/articles/test-article/")


# --- the generation ----------------------------------------------------------------------


def test_invalidation_bumps_the_generation():
    before = caching.public_generation()

    after = caching.public_invalidate(paths=[])

    assert after > before
    assert caching.public_generation() == after


def test_a_lost_generation_restarts_above_every_earlier_one():
    first = caching.public_generation()
    caching.public_invalidate(paths=[])
    caches["publication"].clear()  # evicted, or local memory restarted
    time.sleep(0.001)

    assert caching.public_generation() > first + 1


# --- purging reverse proxies -------------------------------------------------------------


@pytest.mark.django_db
def test_publish_purges_exactly_the_affected_paths_after_commit(
    tmp_path, purge_server, django_capture_on_commit_callbacks
):
    article = import_article(write_article(tmp_path)).article

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish(article)
    assert purge_server.purged == []  # nothing before the commit

    for callback in callbacks:
        callback()

    english = [
        "/articles/test-article/",
        "/",
        "/articles/",
        "/topics/",
        "/topics/ptsd/",
        "/topics/treatments/",
        "/feed/",
        "/sitemap.xml",
        "/search/",
    ]
    # ... and the same pages in Spanish (/es/...), which list and show translations.
    assert sorted(purge_server.purged) == sorted(english + [f"/es{path}" for path in english])


@pytest.mark.django_db
def test_withdrawal_purges_the_article_and_its_lists(
    tmp_path, purge_server, django_capture_on_commit_callbacks
):
    article = live_article(tmp_path)
    purge_server.purged.clear()

    with django_capture_on_commit_callbacks(execute=True):
        article_withdraw(
            article=article, user=make_user("pub", groups=[PUBLISHERS]), reason="Superseded."
        )

    assert "/articles/test-article/" in purge_server.purged
    assert "/topics/ptsd/" in purge_server.purged
    assert "/es/articles/test-article/" in purge_server.purged
    assert len(purge_server.purged) == len(set(purge_server.purged)) == 18


@pytest.mark.django_db
def test_a_rolled_back_publish_purges_nothing(tmp_path, purge_server):
    from django.db import transaction

    article = import_article(write_article(tmp_path)).article

    with pytest.raises(RuntimeError), transaction.atomic():
        publish(article)
        raise RuntimeError("rolled back")

    assert purge_server.purged == []


def test_an_unreachable_purge_target_never_fails_a_publish(settings, caplog):
    settings.PTSDINFO_PURGE_URLS = ["http://127.0.0.1:9"]  # discard port: refused
    settings.PTSDINFO_PURGE_TIMEOUT = 0.5

    results = caching.purge(paths=["/articles/x/"])

    assert results[0][0] == "http://127.0.0.1:9/articles/x/"
    assert "refused" in results[0][1].lower()  # the reason, in words, not a status code
    assert "PURGE http://127.0.0.1:9/articles/x/ failed" in caplog.text


def test_purge_sends_to_every_configured_base_url(purge_server, settings):
    settings.PTSDINFO_PURGE_URLS = [*settings.PTSDINFO_PURGE_URLS] * 2

    results = caching.purge(paths=["/a/", "/a/", "/b/"])

    assert [status for _, status in results] == [200, 200, 200, 200]
    assert sorted(purge_server.purged) == ["/a/", "/a/", "/b/", "/b/"]


# --- the hit path: served before sessions, auth and the view --------------------------

SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "Permissions-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
)


@pytest.mark.django_db
def test_a_hit_is_served_before_sessions_and_authentication_with_every_security_header(
    client, tmp_path, page_cache
):
    with page_cache():
        live_article(tmp_path)
    miss = client.get("/articles/test-article/")
    hit = client.get("/articles/test-article/")

    assert (miss["X-Cache"], hit["X-Cache"]) == ("miss", "hit")
    assert hasattr(miss.wsgi_request, "session") and hasattr(miss.wsgi_request, "user")
    assert not hasattr(hit.wsgi_request, "session")  # the inner middleware never ran
    assert not hasattr(hit.wsgi_request, "user")
    for header in SECURITY_HEADERS:
        assert hit[header] == miss[header], header
    assert hit["X-Request-ID"]
    assert hit["Content-Length"] == str(len(hit.content))
    assert hit.content == miss.content


@pytest.mark.django_db
def test_a_miss_is_looked_up_once(client, tmp_path, page_cache, monkeypatch):
    with page_cache():
        live_article(tmp_path)
    lookups = []
    real = caching._page_key
    monkeypatch.setattr(caching, "_page_key", lambda *a: lookups.append(1) or real(*a))

    assert client.get("/articles/test-article/")["X-Cache"] == "miss"
    assert len(lookups) == 1
    assert client.get("/articles/test-article/?page=2")["X-Cache"] == "hit"  # ignored param
    assert len(lookups) == 2


def test_the_file_generation_follows_a_bump_by_another_process(tmp_path, settings):
    from django.core.cache.backends.filebased import FileBasedCache

    ours = FileBasedCache(str(tmp_path), {})
    theirs = FileBasedCache(str(tmp_path), {})  # another worker, same directory
    assert caching._file_generation(ours) is None
    theirs.set(caching.GENERATION_KEY, 41, timeout=None)
    assert caching._file_generation(ours) == 41
    assert caching._file_generation(ours) == 41  # same bytes: the value read last time
    theirs.incr(caching.GENERATION_KEY)
    assert caching._file_generation(ours) == 42
    theirs.delete(caching.GENERATION_KEY)
    assert caching._file_generation(ours) is None
