"""Published versions and review events cannot be changed or deleted: not through the
ORM, not through the admin, not by a cascade."""

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import ProtectedError
from django.urls import reverse

from articles.models import Article, ArticleVersion, ReviewEvent
from editorial.services import workflow
from tests.factories import import_article, make_user, write_article

pytestmark = pytest.mark.django_db
REFUSED = (DatabaseError, IntegrityError, ProtectedError)


@pytest.fixture
def live(tmp_path, team):
    article = import_article(write_article(tmp_path), user=team["author"]).article
    workflow.article_submit(article=article, user=team["author"])
    workflow.article_approve(article=article, user=team["reviewer"])
    workflow.article_publish(article=article, user=team["publisher"])
    article.refresh_from_db()
    return article


def test_orm_save_of_a_changed_version_is_refused(live):
    version = ArticleVersion.objects.get(pk=live.live_version_id)
    version.html = "<p>defaced</p>"

    with pytest.raises(REFUSED), transaction.atomic():
        version.save()

    assert "defaced" not in ArticleVersion.objects.get(pk=version.pk).html


def test_orm_delete_of_a_published_version_is_refused(live):
    version = ArticleVersion.objects.get(pk=live.live_version_id)
    Article.objects.filter(pk=live.pk).update(live_version=None, status="withdrawn")

    with pytest.raises(REFUSED), transaction.atomic():
        version.delete()

    assert ArticleVersion.objects.filter(pk=version.pk).exists()


def test_deleting_an_article_with_versions_is_refused_not_cascaded(live):
    with pytest.raises(REFUSED), transaction.atomic():
        Article.objects.filter(pk=live.pk).delete()

    assert ArticleVersion.objects.filter(article=live).count() == 1


def test_deleting_the_reviewer_who_approved_is_refused(live, team):
    with pytest.raises(REFUSED), transaction.atomic():
        team["reviewer"].delete()

    assert ArticleVersion.objects.get(pk=live.live_version_id).reviewer == team["reviewer"]


def test_review_events_cannot_be_saved_changed_or_deleted(live):
    event = ReviewEvent.objects.filter(article=live).first()
    event.comment = "rewritten history"

    with pytest.raises(REFUSED), transaction.atomic():
        event.save()
    with pytest.raises(REFUSED), transaction.atomic():
        event.delete()

    assert ReviewEvent.objects.get(pk=event.pk).comment != "rewritten history"


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:articles_articleversion_delete",
        "admin:articles_reviewevent_delete",
        "admin:articles_article_delete",
    ],
)
def test_admin_offers_no_delete_even_to_a_superuser(client, live, url_name):
    client.force_login(make_user("root", is_superuser=True))
    target = {
        "admin:articles_articleversion_delete": live.live_version_id,
        "admin:articles_reviewevent_delete": ReviewEvent.objects.filter(article=live).first().pk,
        "admin:articles_article_delete": live.pk,
    }[url_name]

    response = client.post(reverse(url_name, args=[target]), {"post": "yes"})

    assert response.status_code == 403
    assert ArticleVersion.objects.filter(article=live).exists()


def test_admin_cannot_edit_a_version(client, live):
    client.force_login(make_user("root", is_superuser=True))
    url = reverse("admin:articles_articleversion_change", args=[live.live_version_id])

    client.post(url, {"title": "Changed", "change_summary": "x"})

    assert ArticleVersion.objects.get(pk=live.live_version_id).title != "Changed"
