import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError
from django.template.loader import render_to_string

from articles.models import Topic
from articles.services.versions import version_create
from tests.factories import ARTICLE_BODY, import_article, make_user, publish, write_article

pytestmark = pytest.mark.django_db

SUICIDE_BODY = (
    "Some people with PTSD have [thoughts of suicide [@feder2014]]"
    "{.claim #suicidal-thoughts certainty=moderate}.\nTreatment helps.\n"
)


@pytest.fixture
def draft(tmp_path):
    return import_article(write_article(tmp_path)).article


@pytest.fixture
def live(draft):
    publish(draft)
    draft.refresh_from_db()
    return draft


def published_article(tmp_path, slug, *, title=None, body=ARTICLE_BODY):
    path = write_article(
        tmp_path / slug, slug=slug, title=title or slug.replace("-", " ").title(), body=body
    )
    article = import_article(path).article
    publish(article)
    article.refresh_from_db()
    return article


def html_of(response) -> str:
    return response.content.decode()


# --- the article page ------------------------------------------------------------------


def test_unpublished_draft_answers_404(client, draft):
    response = client.get("/articles/test-article/")

    assert response.status_code == 404
    assert b"A short lead paragraph" not in response.content


def test_unknown_slug_answers_friendly_404(client):
    response = client.get("/articles/no-such-article/")

    assert response.status_code == 404
    assert b"can\xe2\x80\x99t find that page" in response.content
    assert b'role="search"' in response.content


def test_article_page_shows_the_published_version_with_the_spec_hooks(client, live):
    response = client.get("/articles/test-article/")
    html = html_of(response)

    assert response.status_code == 200
    assert '<section id="mechanism">' in html
    assert re.search(
        r'id="claim-rapid-onset"[^>]*class="claim"|class="claim"[^>]*id="claim-rapid-onset"', html
    )
    assert 'data-certainty="moderate"' in html
    assert '<a href="#ref-1"' in html or 'href="#ref-1"' in html
    assert '<ol id="references">' in html
    assert '<li id="ref-1">' in html
    assert "https://doi.org/10.1001/jamapsychiatry.2014.62" in html
    assert "Medically reviewed by" in html
    assert "Page last reviewed:" in html
    assert "Next review due:" in html


def test_article_page_has_contents_certainty_legend_and_disclaimer(client, live):
    html = html_of(client.get("/articles/test-article/"))

    contents = re.search(r'<nav class="toc".*?</nav>', html, re.S).group(0)
    assert re.findall(r'href="#([^"]+)"', contents) == [
        "mechanism",
        "evidence",
        "references-section",
        "what-changed",
    ]
    legend = re.search(r'<section class="certainty-legend".*?</section>', html, re.S).group(0)
    for label in ("High certainty", "Moderate certainty", "Low certainty", "Very low certainty"):
        assert label in legend
    assert 'class="certainty-badge certainty-moderate"' in html  # the renderer's badge
    assert "is not a diagnosis or a treatment plan" in html


def test_review_dates_and_reviewer_come_from_the_published_version_not_today(client, draft):
    reviewer = make_user("old-reviewer", display_name="Dr Old Reviewer", credentials="MD, PhD")
    reviewer.profile.conflict_of_interest = "Consults for Acme Pharma."
    reviewer.profile.save()
    approved = datetime(2024, 3, 5, 12, tzinfo=UTC)
    version = version_create(
        article=draft, author=None, reviewer=reviewer, approved_at=approved, change_summary="v1"
    )
    from articles.services.versions import version_publish

    version_publish(version=version)
    # A later approval that is not published yet must not leak onto the page.
    version_create(
        article=draft,
        author=None,
        reviewer=make_user("new-reviewer", display_name="Dr New Reviewer"),
    )

    html = html_of(client.get("/articles/test-article/"))

    assert "Dr Old Reviewer, MD, PhD" in html
    assert "Consults for Acme Pharma." in html
    assert "Dr New Reviewer" not in html
    assert '<time datetime="2024-03-05">5 March 2024</time>' in html
    assert '<time datetime="2025-03-05">5 March 2025</time>' in html  # next review due
    review_meta = re.search(r'<dl class="review-meta">.*?</dl>', html, re.S).group(0)
    assert date.today().isoformat() not in review_meta


def test_article_page_has_medical_web_page_json_ld(client, live):
    html = html_of(client.get("/articles/test-article/"))

    payload = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    data = json.loads(payload)
    assert data["@type"] == "MedicalWebPage"
    assert data["lastReviewed"] == live.live_version.last_reviewed.isoformat()
    assert data["reviewedBy"] == {"@type": "Person", "name": "Dr Test Reviewer", "jobTitle": "MD"}
    assert data["medicalAudience"]["audienceType"] == "Patient"
    assert data["about"]["name"] == "Post-traumatic stress disorder"
    assert len(data["citation"]) == 2
    assert data["citation"][0]["name"].startswith("Feder A. Efficacy of Intravenous Ketamine")
    assert data["citation"][0]["sameAs"] == "https://doi.org/10.1001/jamapsychiatry.2014.62"
    assert data["url"] == "http://testserver/articles/test-article/"
    assert data["publisher"]["name"] == settings.PTSDINFO_PUBLISHER


def test_article_page_has_canonical_link_and_open_graph_tags(client, live):
    html = html_of(client.get("/articles/test-article/?utm_source=newsletter"))

    assert '<link rel="canonical" href="http://testserver/articles/test-article/">' in html
    assert '<meta property="og:type" content="article">' in html
    assert '<meta property="og:title" content="Test article">' in html
    assert '<meta property="og:description" content="What the research says, in brief.">' in html
    assert '<meta property="og:url" content="http://testserver/articles/test-article/">' in html


def test_article_page_links_its_topics(client, live):
    html = html_of(client.get("/articles/test-article/"))

    assert 'href="/topics/ptsd/"' in html
    assert 'href="/topics/treatments/"' in html


def test_page_mentioning_suicide_puts_help_first(client, tmp_path):
    published_article(tmp_path, "hard-times", body=SUICIDE_BODY)

    html = html_of(client.get("/articles/hard-times/"))

    help_at = html.index('class="help-first"')
    assert help_at < html.index('class="article-body"')
    assert "988" in html[help_at:] and "116 123" in html[help_at:]


def test_page_without_suicide_mention_has_no_extra_help_box(client, live):
    assert 'class="help-first"' not in html_of(client.get("/articles/test-article/"))


def test_withdrawn_article_answers_410_with_a_tombstone(client, live):
    from articles.models import Article

    Article.objects.filter(pk=live.pk).update(
        live_version=None, status=Article.Status.WITHDRAWN, withdrawn_reason="Superseded."
    )

    response = client.get("/articles/test-article/")

    assert response.status_code == 410
    assert b"This article has been withdrawn" in response.content
    assert b"Superseded." in response.content
    assert b"A short lead paragraph" not in response.content


def test_article_page_weighs_under_100_kb_with_its_stylesheet_and_no_blocking_scripts(client):
    call_command("load_demo")

    html = client.get("/articles/ketamine-for-ptsd/").content
    css = (Path(settings.BASE_DIR) / "static/css/site.css").read_bytes()
    favicon = (Path(settings.BASE_DIR) / "static/img/favicon.svg").read_bytes()

    assert len(html) + len(css) + len(favicon) < 100_000
    assert not re.search(rb"<script(?![^>]*application/ld\+json)", html)
    assert b"@font-face" not in css and b"@import" not in css


# --- lists, topics and the other pages ---------------------------------------------------


def test_article_list_shows_only_published_articles(client, live, tmp_path):
    import_article(write_article(tmp_path / "other", slug="hidden-draft", title="Hidden draft"))

    html = html_of(client.get("/articles/"))

    assert "Test article" in html
    assert "Hidden draft" not in html


def test_article_list_is_paginated(client, tmp_path, settings):
    for index in range(3):
        published_article(tmp_path, f"article-{index}")
    with mock.patch("publicsite.views.LIST_PAGE_SIZE", 2):
        first = html_of(client.get("/articles/"))
        second = html_of(client.get("/articles/?page=2"))
        junk = client.get("/articles/?page=%00nonsense")

    assert "Article 0" in first and "Article 2" not in first
    assert "Article 2" in second and 'rel="prev"' in second
    assert '<link rel="canonical" href="http://testserver/articles/?page=2">' in second
    assert junk.status_code == 200


def test_home_shows_featured_recently_reviewed_and_topics(client, tmp_path, settings):
    settings.PTSDINFO_FEATURED_ARTICLES = ["second", "missing-slug"]
    published_article(tmp_path, "first")
    published_article(tmp_path, "second")
    import_article(write_article(tmp_path / "draft", slug="a-draft", title="A draft"))

    html = html_of(client.get("/"))

    featured = re.search(r'aria-labelledby="featured-title">.*?</section>', html, re.S).group(0)
    assert featured.index("Second") < featured.index("First")
    assert "Recently reviewed" in html
    assert 'href="/topics/ptsd/"' in html
    assert "A draft" not in html


def test_topic_page_lists_the_topics_live_articles(client, live, tmp_path):
    other = import_article(write_article(tmp_path / "x", slug="draft-in-topic", title="Drafty"))
    assert other.article.topics.filter(slug="ptsd").exists()

    response = client.get("/topics/ptsd/")

    assert response.status_code == 200
    assert "Test article" in html_of(response)
    assert "Drafty" not in html_of(response)


def test_topic_only_drafts_use_is_not_public(client, tmp_path):
    topic = Topic.objects.create(slug="secret", name="Secret")
    article = import_article(write_article(tmp_path / "d", slug="d")).article
    article.topics.add(topic)

    assert client.get("/topics/secret/").status_code == 404
    assert client.get("/topics/no-such-topic/").status_code == 404
    assert "Secret" not in html_of(client.get("/topics/"))


def test_topics_index_lists_topics_with_counts(client, live):
    html = html_of(client.get("/topics/"))

    assert 'href="/topics/ptsd/"' in html
    assert "(1 article)" in html


def test_editorial_policy_explains_grading_four_eyes_and_review_intervals(client):
    html = html_of(client.get("/editorial-policy/"))

    assert 'id="certainty"' in html
    for label in ("High certainty", "Moderate certainty", "Low certainty", "Very low certainty"):
        assert label in html
    assert "four-eyes rule" in html
    assert "Next review due" in html and "12 months" in html
    assert 'id="safe-messaging"' in html


def test_about_page_names_the_publisher(client, settings):
    settings.PTSDINFO_PUBLISHER = "The Example Trauma Foundation"

    html = html_of(client.get("/about/"))

    assert "The Example Trauma Foundation" in html


def test_server_error_page_renders_without_a_request(client):
    html = render_to_string("500.html")

    assert "Something went wrong" in html
    assert "988" in html and "116 123" in html
    assert '<main id="main"' in html


def test_server_error_answers_with_the_friendly_page(client):
    client.raise_request_exception = False
    with mock.patch("publicsite.views.selectors.published_articles", side_effect=RuntimeError):
        response = client.get("/articles/")

    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content


def test_every_page_offers_crisis_help_in_the_same_place(client, live):
    for url in (
        "/",
        "/articles/",
        "/articles/test-article/",
        "/articles/missing/",
        "/topics/",
        "/topics/ptsd/",
        "/search/?q=ketamine",
        "/editorial-policy/",
        "/about/",
    ):
        html = html_of(client.get(url))
        assert "988" in html and "116 123" in html, url
        # After the site header, before the main content: the same place everywhere.
        assert html.index("</header>") < html.index('class="crisis-help"') < html.index("<main"), (
            url
        )


def test_public_pages_have_one_h1_a_skip_link_and_the_language(client, live):
    for url in ("/", "/articles/", "/articles/test-article/", "/topics/ptsd/", "/search/?q=x"):
        html = html_of(client.get(url))
        assert html.count("<h1") == 1, url
        assert '<html lang="en">' in html
        assert '<a class="skip-link" href="#main">' in html


def test_robots_txt_keeps_crawlers_out_of_admin_and_points_to_the_sitemap(client):
    response = client.get("/robots.txt")
    text = response.content.decode()

    assert response["Content-Type"].startswith("text/plain")
    assert "Disallow: /admin/" in text
    assert "Disallow: /editor/" in text
    assert "Sitemap: http://testserver/sitemap.xml" in text


def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_is_503_when_the_database_is_down(client):
    with mock.patch("publicsite.views.connection.cursor", side_effect=DatabaseError("down")):
        response = client.get("/healthz")

    assert response.status_code == 503


# --- query budgets: fixed, and the same whatever the number of articles -----------------

QUERY_BUDGETS = {
    "/": 3,
    "/articles/": 2,
    "/articles/test-article/": 1,
    "/topics/": 1,
    "/topics/ptsd/": 3,
    "/search/?q=ketamine": 2,
    "/search/?q=": 0,
    "/editorial-policy/": 0,
    "/about/": 0,
    "/feed/": 1,
    "/sitemap.xml": 2,
    "/robots.txt": 0,
    "/articles/no-such-article/": 1,
}


@pytest.mark.parametrize(("url", "budget"), QUERY_BUDGETS.items())
def test_public_page_query_budget(client, live, url, budget, django_assert_max_num_queries):
    with django_assert_max_num_queries(budget):
        response = client.get(url)
    assert response.status_code in (200, 404)


@pytest.mark.parametrize("url", QUERY_BUDGETS)
def test_public_page_queries_do_not_grow_with_the_number_of_articles(
    client, live, tmp_path, url, django_assert_num_queries
):
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for index in range(4):
        published_article(tmp_path, f"more-{index}", title=f"Ketamine more {index}")

    with django_assert_num_queries(len(few)):
        client.get(url)


def test_article_page_costs_one_query(client, live, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/articles/test-article/")
    assert response.status_code == 200


def test_withdrawn_tombstone_costs_one_query(client, live, django_assert_num_queries):
    from articles.models import Article

    Article.objects.filter(pk=live.pk).update(live_version=None, status="withdrawn")
    with django_assert_num_queries(1):
        assert client.get("/articles/test-article/").status_code == 410
