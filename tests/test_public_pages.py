import json
import re
from unittest import mock

import pytest
from django.db import DatabaseError

from tests.factories import import_article, publish, write_article

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(tmp_path):
    return import_article(write_article(tmp_path)).article


@pytest.fixture
def live(draft):
    publish(draft)
    draft.refresh_from_db()
    return draft


def test_unpublished_draft_answers_404(client, draft):
    response = client.get("/articles/test-article/")

    assert response.status_code == 404
    assert b"A short lead paragraph" not in response.content


def test_unknown_slug_answers_friendly_404(client):
    response = client.get("/articles/no-such-article/")

    assert response.status_code == 404
    assert b"can\xe2\x80\x99t find that page" in response.content


def test_article_page_shows_the_published_version_with_the_spec_hooks(client, live):
    response = client.get("/articles/test-article/")
    html = response.content.decode()

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


def test_article_page_has_medical_web_page_json_ld(client, live):
    html = client.get("/articles/test-article/").content.decode()

    payload = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    data = json.loads(payload)
    assert data["@type"] == "MedicalWebPage"
    assert data["lastReviewed"] == live.live_version.last_reviewed.isoformat()
    assert data["reviewedBy"]["name"] == "Dr Test Reviewer"
    assert len(data["citation"]) == 2


def test_article_page_costs_at_most_three_queries(client, live, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = client.get("/articles/test-article/")
    assert response.status_code == 200


def test_article_list_shows_only_published_articles(client, live, tmp_path):
    import_article(write_article(tmp_path / "other", slug="hidden-draft", title="Hidden draft"))

    html = client.get("/articles/").content.decode()

    assert "Test article" in html
    assert "Hidden draft" not in html


def test_article_list_query_budget(client, live, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        assert client.get("/articles/").status_code == 200


def test_home_query_budget(client, live, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        assert client.get("/").status_code == 200


def test_every_page_offers_crisis_help(client, live):
    for url in ("/", "/articles/", "/articles/test-article/", "/articles/missing/"):
        html = client.get(url).content.decode()
        assert "988" in html and "116 123" in html, url


def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_is_503_when_the_database_is_down(client):
    with mock.patch("articles.views.connection.cursor", side_effect=DatabaseError("down")):
        response = client.get("/healthz")

    assert response.status_code == 503
