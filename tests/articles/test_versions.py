import pytest
from django.db import DatabaseError, IntegrityError, transaction

from articles.models import Article, ArticleVersion, ReviewEvent
from articles.services.snapshots import article_content_hash
from tests.factories import import_article, publish, write_article

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(tmp_path):
    article = import_article(write_article(tmp_path)).article
    version = publish(article)
    article.refresh_from_db()
    return article, version


def test_publishing_freezes_snapshot_html_and_hash(published):
    article, version = published

    assert article.status == Article.Status.PUBLISHED
    assert article.live_version == version
    assert version.number == 1
    assert version.content_hash == article_content_hash(article)
    assert 'id="claim-rapid-onset"' in version.html
    assert version.snapshot["claims"][1]["supports"] == [{"key": "feder2014", "locator": "p. 683"}]
    assert version.reviewer_name == "Dr Test Reviewer"
    assert version.next_review_due.year == version.last_reviewed.year + 1


def test_version_content_cannot_be_updated_in_the_database(published):
    _, version = published

    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        ArticleVersion.objects.filter(pk=version.pk).update(html="<p>defaced</p>")

    version.refresh_from_db()
    assert "defaced" not in version.html


def test_published_timestamp_never_moves_once_set(published):
    _, version = published

    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        ArticleVersion.objects.filter(pk=version.pk).update(published_at=None)


def test_published_versions_are_never_deleted(published):
    _, version = published

    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        ArticleVersion.objects.filter(pk=version.pk).delete()
    assert ArticleVersion.objects.filter(pk=version.pk).exists()


def test_review_events_are_append_only(published):
    article, _ = published
    event = ReviewEvent.objects.filter(article=article).first()

    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        ReviewEvent.objects.filter(pk=event.pk).update(comment="rewritten")
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        ReviewEvent.objects.filter(pk=event.pk).delete()


def test_editing_the_draft_never_changes_the_live_version(published, tmp_path, client):
    article, version = published
    html_before = version.html
    path = write_article(tmp_path / "edit")
    path.write_text(path.read_text().replace("was negative", "was clearly NEGATIVE"))

    import_article(path)

    version.refresh_from_db()
    assert version.html == html_before
    page = client.get(article.get_absolute_url()).content.decode()
    assert "clearly NEGATIVE" not in page
    assert "was negative" in page


def test_second_publication_gets_the_next_number_and_keeps_the_first(published, tmp_path):
    article, first = published
    path = write_article(tmp_path / "edit")
    path.write_text(path.read_text().replace("was negative", "found no benefit"))
    import_article(path)

    second = publish(article)

    article.refresh_from_db()
    assert second.number == 2
    assert article.live_version == second
    assert ArticleVersion.objects.filter(article=article).count() == 2
    first.refresh_from_db()
    assert "was negative" in first.html
