"""`manage.py generate_articles`: synthetic published articles for load and growth tests."""

import pytest
from django.core.management import CommandError, call_command

from articles.models import Article, ArticleVersion, Citation, Claim, ClaimCitation, Section
from articles.services.snapshots import article_content_hash
from editorial.services.gates import article_gates
from publicsite.article_page import pages_refresh

pytestmark = pytest.mark.django_db


def generate(count, **options):
    call_command("generate_articles", count=count, workers=1, citations=40, **options)


def test_generates_published_articles_with_sections_claims_and_citations():
    generate(3, prefix="gen", sections=4, claims=8)

    articles = Article.objects.filter(slug__startswith="gen-")
    assert articles.count() == 3
    for article in articles:
        assert article.status == Article.Status.PUBLISHED
        assert article.live_version.published_at is not None
        assert article.sections.count() == 4
        assert article.claims.count() == 8
        assert ClaimCitation.objects.filter(claim__article=article).exists()
        assert article.live_version.search_text
        assert article.topics.count() == 2


def test_generated_draft_is_exactly_the_published_version_and_passes_the_gates():
    generate(2, prefix="gen")

    for article in Article.objects.filter(slug__startswith="gen-"):
        version = article.live_version
        assert article_content_hash(article) == version.content_hash
        reviewer = version.reviewer
        assert not [p for p in article_gates(article=article, reviewer=reviewer) if p.is_error]


def test_generated_article_page_renders_its_claims_and_references(client):
    generate(1, prefix="gen")

    html = client.get("/articles/gen-00001/").content.decode()

    assert 'class="claim"' in html
    assert '<ol id="references">' in html
    assert "https://doi.org/10.5555/gen." in html


def test_citations_come_from_one_shared_pool():
    generate(6, prefix="gen", claims=10)

    assert Citation.objects.filter(doi__startswith="10.5555/gen.").count() == 40
    shared = [c for c in Citation.objects.all() if c.article_keys.count() > 1]
    assert shared  # 6 articles x ~10 citations from a pool of 40


def test_running_again_only_adds_what_is_missing():
    generate(2, prefix="gen")
    before = (Article.objects.count(), Claim.objects.count(), Section.objects.count())

    generate(2, prefix="gen")
    assert (Article.objects.count(), Claim.objects.count(), Section.objects.count()) == before

    generate(3, prefix="gen")
    assert Article.objects.filter(slug__startswith="gen-").count() == 3
    assert ArticleVersion.objects.filter(article__slug="gen-00003").count() == 1


def test_refuses_impossible_shapes():
    with pytest.raises(CommandError):
        generate(1, prefix="gen", sections=0)


def test_generated_articles_get_their_stored_page(client, django_assert_num_queries):
    generate(2, prefix="gen")

    with django_assert_num_queries(1):
        response = client.get("/articles/gen-00002/")
    assert response.status_code == 200
    assert 'class="review-meta"' in response.content.decode()


def stored_pages(prefix):
    return {
        v.article.slug: (v.page_key, v.page_meta, v.page_body, v.page_ld)
        for v in ArticleVersion.objects.filter(
            article__slug__startswith=f"{prefix}-"
        ).select_related("article")
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_pages_rendered_with_the_articles_are_the_ones_publishing_stores(workers):
    call_command("generate_articles", count=3, workers=workers, citations=40, prefix="gen")
    generated = stored_pages("gen")
    assert len(generated) == 3
    assert all(key and meta and body and ld for key, meta, body, ld in generated.values())

    # Drop them and let the publishing path's renderer (page_store: one article at a
    # time, from the database) store them again.
    ArticleVersion.objects.filter(article__slug__startswith="gen-").update(
        page_key=None, page_meta=None, page_body=None, page_ld=None
    )
    assert pages_refresh() == 3

    assert stored_pages("gen") == generated
    for article in Article.objects.filter(slug__startswith="gen-"):
        assert article_content_hash(article) == article.live_version.content_hash


def test_rendering_runs_only_a_window_ahead_of_storing_and_keeps_the_order():
    from concurrent.futures import Future

    from ops.management.synthetic_articles import bounded_map

    submitted = []

    class Inline:
        def submit(self, fn, *args):
            submitted.append(args[1])
            future = Future()
            future.set_result(fn(*args))
            return future

    results = bounded_map(Inline(), lambda task: task * 2, range(100), chunk=5, window=3)

    assert next(results) == 0
    assert len(submitted) == 4  # three chunks ahead, then one more as the first is taken
    assert list(results) == [task * 2 for task in range(1, 100)]
    assert len(submitted) == 20
