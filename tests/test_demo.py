import re

import pytest
from django.core.management import call_command

from articles.models import Article, ArticleVersion, Citation, Claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("load_demo")


def test_load_demo_twice_duplicates_nothing(demo):
    counts = (Article.objects.count(), ArticleVersion.objects.count(), Citation.objects.count())

    call_command("load_demo")

    assert (
        Article.objects.count(),
        ArticleVersion.objects.count(),
        Citation.objects.count(),
    ) == counts
    assert counts[0] >= 3


def test_every_demo_article_is_published_with_cited_graded_claims(demo):
    for article in Article.objects.all():
        snapshot = article.live_version.snapshot
        assert snapshot["claims"], article.slug
        for claim in snapshot["claims"]:
            assert claim["supports"], (article.slug, claim["id"])
            assert claim["certainty"], (article.slug, claim["id"])


def test_published_ketamine_page_corrects_what_the_review_found_wrong(demo, client):
    html = client.get("/articles/ketamine-for-ptsd/").content.decode()
    text = re.sub(r"<[^>]+>", " ", html)

    flat = " ".join(text.split()).lower()
    # The sentences review-notes.md calls inaccurate or unsupported are gone...
    assert "the nmda receptor is overactive, leading to" not in flat
    assert "by blocking this receptor, ketamine can help to reduce these symptoms" not in flat
    assert "received fda approval for use as a treatment for depression" not in flat
    assert "effective in reducing symptoms of ptsd in both veterans and civilians" not in flat
    assert "within hours" not in flat
    # ...and the corrections are there.
    assert "esketamine" in flat
    assert "24 hours" in text
    assert "veterans" in text.lower()
    assert 'class="claim"' in html and "data-certainty=" in html
    assert '<ol id="references">' in html
    assert "application/ld+json" in html


def test_ketamine_draft_history_starts_from_the_seed(demo):
    article = Article.objects.get(slug="ketamine-for-ptsd")

    assert article.events.filter(kind="import").count() >= 2
    assert not Claim.objects.filter(article=article, key="nmda-overactive").exists()
    assert "nmda-overactive" not in {c["id"] for c in article.live_version.snapshot["claims"]}
