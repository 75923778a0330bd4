"""The article page's version-only parts are rendered once, at publication, and stored
on the version (publicsite/article_page.py); a request renders only what is per reader."""

import io
import json
import re

import pytest
from django.core.cache import cache
from django.core.management import call_command

from articles.models import Article, ArticleVersion
from articles.services.versions import version_create, version_publish
from publicsite import article_page
from tests.factories import import_article, make_user, publish, write_article

pytestmark = pytest.mark.django_db

URL = "/articles/test-article/"


@pytest.fixture
def live(tmp_path):
    article = import_article(write_article(tmp_path)).article
    publish(article)
    article.refresh_from_db()
    return article


@pytest.fixture
def fresh_key(monkeypatch):
    """Forget the process's cached key (tests change what it is made from)."""
    monkeypatch.setattr(article_page, "_key_cache", [])


def page_html(client, **headers) -> str:
    cache.clear()
    response = client.get(URL, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def ld(html: str) -> dict:
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return json.loads(block.group(1))


def test_publishing_stores_the_page_once_the_publication_commits(
    tmp_path, django_capture_on_commit_callbacks
):
    article = import_article(write_article(tmp_path)).article
    version = version_create(
        article=article,
        author=None,
        reviewer=make_user("rev", display_name="Dr Rev"),
        change_summary="v1",
    )
    with django_capture_on_commit_callbacks(execute=True):
        version_publish(version=version)

    stored = ArticleVersion.objects.get(pk=version.pk)
    assert stored.page_key == f"{article_page.page_key()}:test-article"
    assert 'class="review-meta"' in stored.page_meta
    assert "data-certainty=" in stored.page_body
    assert 'id="what-changed"' in stored.page_body
    assert json.loads(stored.page_ld)["@type"] == "MedicalWebPage"


def test_a_stale_page_renders_the_same_html_per_request(client, live, django_assert_num_queries):
    stored = page_html(client)
    ArticleVersion.objects.filter(pk=live.live_version_id).update(page_key=None)

    cache.clear()
    with django_assert_num_queries(3):  # the page, the version's sources, its history
        assert client.get(URL).content.decode() == stored


def test_changed_templates_make_stored_pages_stale_until_refreshed(
    client, live, fresh_key, monkeypatch, django_assert_num_queries
):
    before = article_page.page_key()
    monkeypatch.setattr(article_page, "RENDER_VERSION", article_page.RENDER_VERSION + 1)
    monkeypatch.setattr(article_page, "_key_cache", [])
    assert article_page.page_key() != before

    cache.clear()
    with django_assert_num_queries(3):
        assert client.get(URL).status_code == 200

    call_command("render_article_pages", stdout=io.StringIO())
    assert not ArticleVersion.objects.get(pk=live.live_version_id).page_key.startswith(before)
    cache.clear()
    with django_assert_num_queries(1):
        assert client.get(URL).status_code == 200


def test_the_key_covers_the_templates_the_fragments_include():
    names = [
        source.split("\0", 1)[0]
        for source in article_page._template_sources(article_page.FRAGMENTS.values())
    ]
    assert "articles/_article_static.html" in names
    assert "articles/_article_meta.html" in names
    assert "includes/_certainty_scale.html" in names


def test_a_retraction_notice_shows_without_a_new_version(client, live, django_assert_num_queries):
    assert "retraction-notice" not in page_html(client)
    Article.objects.filter(pk=live.pk).update(retraction_notice="A cited trial was retracted.")

    cache.clear()
    with django_assert_num_queries(1):
        html = client.get(URL).content.decode()
    assert "A cited trial was retracted." in html
    assert html.index("retraction-notice") < html.index('class="review-meta"')


def test_the_structured_data_names_the_address_the_reader_used(client, live, settings):
    settings.ALLOWED_HOSTS = ["testserver", "other.example"]
    first = ld(page_html(client))
    second = ld(page_html(client, host="other.example"))

    assert first["url"] == first["@id"] == "http://testserver/articles/test-article/"
    assert second["url"] == "http://other.example/articles/test-article/"
    assert second["isPartOf"]["url"] == "http://other.example/"
    assert {k: v for k, v in first.items() if k not in ("url", "@id", "isPartOf")} == {
        k: v for k, v in second.items() if k not in ("url", "@id", "isPartOf")
    }
    assert first["@type"] == "MedicalWebPage" and first["citation"]


def test_a_changed_slug_is_not_served_from_the_old_page(client, live, django_assert_num_queries):
    Article.objects.filter(pk=live.pk).update(slug="renamed")
    cache.clear()
    with django_assert_num_queries(3):
        html = client.get("/articles/renamed/").content.decode()
    assert "/articles/renamed/report/" in html
    assert "/articles/test-article/report/" not in html


def test_render_article_pages_skips_fresh_pages(live):
    assert article_page.pages_refresh() == 0
    ArticleVersion.objects.filter(pk=live.live_version_id).update(page_key=None)
    assert article_page.pages_refresh() == 1
    assert article_page.pages_refresh() == 0
    Article.objects.filter(pk=live.pk).update(slug="renamed")  # the key names the slug
    assert article_page.pages_refresh() == 1
    assert article_page.pages_refresh() == 0


def test_fixed_urls_follow_the_script_prefix():
    from django.urls import set_script_prefix

    from publicsite.templatetags.articles_tags import fixed_url

    assert fixed_url("articles:list") == "/articles/"
    set_script_prefix("/sub/")
    try:
        assert fixed_url("articles:list") == "/sub/articles/"
    finally:
        set_script_prefix("/")
    assert fixed_url("articles:list") == "/articles/"


def test_migrate_renders_the_stale_pages(live):
    ArticleVersion.objects.filter(pk=live.live_version_id).update(page_key=None)
    call_command("migrate", verbosity=0)
    assert ArticleVersion.objects.get(pk=live.live_version_id).page_key == (
        article_page.stored_key("test-article")
    )


@pytest.mark.django_db
def test_migrating_back_before_the_page_columns_skips_the_page_refresh():
    """`migrate articles 0010` (or a faked migrate) hands post_migrate a schema without
    the page columns: the refresh is skipped, not crashed on."""
    from django.apps import apps as global_apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from publicsite.article_page import pages_after_migrate

    state = MigrationLoader(connection).project_state(("articles", "0010_watch_evidence"))

    pages_after_migrate(
        sender=global_apps.get_app_config("articles"),
        app_config=global_apps.get_app_config("articles"),
        apps=state.apps,
    )


def test_the_compiled_article_query_gives_what_the_orm_gives(live, settings):
    """`selectors.article_page` compiles its SQL once per process and builds the objects
    itself: they must be the ORM's, field by field, deferred fields and annotations
    included, for a live, a withdrawn-looking and a missing slug."""
    from publicsite import selectors

    settings.PTSDINFO_TRANSLATION_LANGUAGES = ["es"]
    languages = tuple(selectors.translation_languages())
    for _ in range(2):  # the second call uses the compiled query
        fast = selectors.article_page(slug=live.slug)
        plain = selectors._article_page_queryset(live.slug, languages).first()
        assert fast.pk == plain.pk and fast.live_version.pk == plain.live_version.pk
        assert fast.get_deferred_fields() == plain.get_deferred_fields()
        for name in {*fast.__dict__} - {"_state"}:
            assert getattr(fast, name) == getattr(plain, name), name
        for name in {*fast.live_version.__dict__} - {"_state"}:
            assert getattr(fast.live_version, name) == getattr(plain.live_version, name), name
        assert fast.translated_es is False
    assert selectors.article_page(slug="no-such-article") is None


def what_changed(html: str) -> list[str]:
    block = re.search(r'<section id="what-changed".*?</section>', html, re.S).group()
    return [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li>.*?</li>", block, re.S)]


def test_what_changed_calls_the_first_published_version_first_not_unchanged(
    client, tmp_path, django_capture_on_commit_callbacks
):
    article = import_article(write_article(tmp_path)).article
    reviewer = make_user("rev", display_name="Dr Rev")
    for summary in ("", ""):
        version = version_create(
            article=article, author=None, reviewer=reviewer, change_summary=summary
        )
        with django_capture_on_commit_callbacks(execute=True):
            version_publish(version=version)

    lines = what_changed(page_html(client))

    assert [line.split(": ", 1)[1] for line in lines] == [
        "Reviewed by a clinician; no change to the content.",
        "First published version.",
    ]
