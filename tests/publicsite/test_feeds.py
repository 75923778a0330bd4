import xml.etree.ElementTree as ET

import pytest

from articles.models import Article
from tests.factories import import_article, publish, write_article

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def live_article(tmp_path, slug, title):
    article = import_article(write_article(tmp_path / slug, slug=slug, title=title)).article
    publish(article)
    article.refresh_from_db()
    return article


def republish(tmp_path, article, *, title, change_summary):
    path = write_article(tmp_path / f"{article.slug}-v2", slug=article.slug, title=title)
    import_article(path)
    article.refresh_from_db()
    publish(article, change_summary=change_summary)
    article.refresh_from_db()
    return article


def feed_entries(client):
    response = client.get("/feed/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    return root, root.findall(f"{ATOM}entry")


def test_feed_is_atom_with_one_entry_per_published_version(client, tmp_path):
    article = live_article(tmp_path, "sleep", "Sleep and PTSD")
    republish(tmp_path, article, title="Sleep and PTSD, reviewed", change_summary="New trial.")

    root, entries = feed_entries(client)

    assert root.find(f"{ATOM}title").text == "ptsdinfo: new and re-reviewed articles"
    ids = [entry.find(f"{ATOM}id").text for entry in entries]
    assert ids == [
        "http://testserver/articles/sleep/#version-2",
        "http://testserver/articles/sleep/#version-1",
    ]
    newest = entries[0]
    assert newest.find(f"{ATOM}title").text.startswith("Sleep and PTSD, reviewed (reviewed ")
    assert "What changed: New trial." in newest.find(f"{ATOM}summary").text
    assert "Medically reviewed by Dr Test Reviewer, MD." in newest.find(f"{ATOM}summary").text
    link = newest.find(f"{ATOM}link").get("href")
    assert link == "http://testserver/articles/sleep/"
    assert newest.find(f"{ATOM}updated").text


def test_feed_leaves_out_drafts_and_withdrawn_articles(client, tmp_path):
    live_article(tmp_path, "kept", "Kept article")
    gone = live_article(tmp_path, "gone", "Withdrawn article")
    Article.objects.filter(pk=gone.pk).update(live_version=None, status="withdrawn")
    import_article(write_article(tmp_path / "draft", slug="draft", title="Draft article"))

    _, entries = feed_entries(client)

    assert [entry.find(f"{ATOM}title").text for entry in entries] == ["Kept article"]


def test_feed_query_budget(client, tmp_path, django_assert_max_num_queries):
    for index in range(3):
        live_article(tmp_path, f"a{index}", f"Article {index}")

    with django_assert_max_num_queries(1):
        response = client.get("/feed/")

    assert response.status_code == 200
    assert response.content.count(b"<entry>") == 3


def sitemap_urls(client):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    return {
        url.find(f"{SITEMAP}loc").text: getattr(url.find(f"{SITEMAP}lastmod"), "text", None)
        for url in root.findall(f"{SITEMAP}url")
    }


def test_sitemap_lists_live_articles_with_lastmod_topics_and_pages(client, tmp_path):
    article = live_article(tmp_path, "sleep", "Sleep")

    urls = sitemap_urls(client)

    assert urls["http://testserver/articles/sleep/"] == (
        article.live_version.published_at.date().isoformat()
    )
    assert "http://testserver/topics/ptsd/" in urls
    for path in ("/", "/articles/", "/topics/", "/editorial-policy/", "/about/"):
        assert f"http://testserver{path}" in urls


def test_sitemap_leaves_out_drafts_and_withdrawn_articles(client, tmp_path):
    gone = live_article(tmp_path, "gone", "Gone")
    Article.objects.filter(pk=gone.pk).update(live_version=None, status="withdrawn")
    import_article(write_article(tmp_path / "draft", slug="draft", title="Draft"))

    urls = sitemap_urls(client)

    assert not [url for url in urls if "/articles/gone/" in url or "/articles/draft/" in url]
    assert "http://testserver/topics/ptsd/" not in urls  # only drafts use it now


def test_sitemap_query_budget_is_constant(client, tmp_path, django_assert_max_num_queries):
    for index in range(5):
        live_article(tmp_path, f"a{index}", f"Article {index}")

    with django_assert_max_num_queries(2):
        response = client.get("/sitemap.xml")

    assert response.status_code == 200
    # Each article once (its alternates, in <xhtml:link>, name it again).
    assert response.content.count(b"<loc>http://testserver/articles/a") == 5
