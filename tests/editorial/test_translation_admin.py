"""The translation's admin page (issue 18): start, edit with the facts check, side by
side claim by claim, and the workflow buttons."""

import pytest
from django.urls import reverse

from articles.models import ArticleTranslation, StaffProfile
from editorial.services.translations import translation_save, translation_start
from tests.editorial.test_translations import new_source_version, spanish

pytestmark = pytest.mark.django_db


@pytest.fixture
def translation(published_article, team):
    StaffProfile.objects.filter(user=team["reviewer"]).update(languages="es")
    started = translation_start(article=published_article, language="es", user=team["author"])
    return translation_save(
        translation=started,
        user=team["author"],
        title="Artículo de prueba",
        summary="Resumen.",
        body=spanish(started.body).replace(
            "El mayor ensayo en veteranos fue negativo", "<b>negativo</b>"
        ),
    )


def change_url(translation):
    return reverse("admin:articles_articletranslation_change", args=[translation.pk])


def form_data(translation, **changes):
    return {
        "title": translation.title,
        "summary": translation.summary,
        "body": translation.body,
        "lock_version": str(translation.lock_version),
        **changes,
    }


def test_an_author_starts_a_translation_from_the_admin(client, published_article, team):
    client.force_login(team["author"])
    response = client.post(
        reverse("admin:articles_articletranslation_add"),
        {"article": published_article.pk, "language": "es"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    translation = ArticleTranslation.objects.get(article=published_article, language="es")
    assert translation.source_version == published_article.live_version


def test_the_page_shows_source_and_translation_claim_by_claim_escaped(client, translation, team):
    client.force_login(team["reviewer"])
    html = client.get(change_url(translation)).content.decode()

    assert 'id="translation-claim-rapid-onset"' in html
    assert "A single infusion reduced symptoms at 24 hours" in html
    assert "Una sola infusión redujo los síntomas a las 24 horas" in html
    assert "&lt;b&gt;negativo&lt;/b&gt;" in html and "<b>negativo</b>" not in html
    assert "Approve" not in html  # still a draft


def test_an_edit_that_changes_a_grade_is_refused_on_the_form(client, translation, team):
    client.force_login(team["author"])
    body = translation.body.replace(
        "#rapid-onset certainty=moderate", "#rapid-onset certainty=high"
    )
    response = client.post(change_url(translation), form_data(translation, body=body))

    assert response.status_code == 200
    assert (
        "Claim &#x27;rapid-onset&#x27;: its certainty grade must stay" in response.content.decode()
    )
    translation.refresh_from_db()
    assert "certainty=moderate" in translation.body


def test_workflow_buttons_and_an_unchanged_save_writes_nothing(client, translation, team):
    client.force_login(team["author"])
    client.post(change_url(translation), {**form_data(translation), "_submit": "1"})
    translation.refresh_from_db()
    assert translation.status == "in_review"

    client.force_login(team["reviewer"])
    response = client.post(change_url(translation), form_data(translation))  # plain Save
    assert response.status_code == 302
    assert not translation.contributors.filter(pk=team["reviewer"].pk).exists()
    client.post(change_url(translation), {**form_data(translation), "_approve": "1"})
    translation.refresh_from_db()
    assert translation.status == "approved"

    client.force_login(team["publisher"])
    client.post(change_url(translation), {**form_data(translation), "_publish": "1"})
    translation.refresh_from_db()
    assert translation.status == "published" and translation.live_version.number == 1


def test_the_page_marks_claims_changed_in_english(client, translation, team, tmp_path):
    new_source_version(translation.article, tmp_path)
    client.force_login(team["author"])
    html = client.get(change_url(translation)).content.decode()
    assert "grade changed" in html and "text changed" in html

    response = client.post(change_url(translation), {"_update_source": "1"}, follow=True)
    assert "Now translating the live version" in response.content.decode()
    translation.refresh_from_db()
    assert translation.source_version.number == 2


def _publish(client, translation, team):
    client.force_login(team["author"])
    client.post(change_url(translation), {**form_data(translation), "_submit": "1"})
    client.force_login(team["reviewer"])
    client.post(change_url(translation), {**form_data(translation), "_approve": "1"})
    client.force_login(team["publisher"])
    client.post(change_url(translation), {**form_data(translation), "_publish": "1"})
    translation.refresh_from_db()
    assert translation.status == "published"


def test_a_publisher_withdraws_a_translation_alone_and_the_english_stays_live(
    client, translation, team, django_capture_on_commit_callbacks
):
    _publish(client, translation, team)
    live = translation.live_version
    assert 'name="_withdraw"' in client.get(change_url(translation)).content.decode()

    refused = client.post(change_url(translation), {"_withdraw": "1"}, follow=True)
    assert "needs a reason" in refused.content.decode()
    translation.refresh_from_db()
    assert translation.live_version == live

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            change_url(translation),
            {"_withdraw": "1", "withdraw_reason": "Se está revisando la traducción."},
        )

    translation.refresh_from_db()
    live.refresh_from_db()
    assert translation.status == "withdrawn" and translation.live_version is None
    assert live.withdrawn_at is not None  # kept, marked
    event = translation.events.order_by("-id").first()
    assert (event.from_state, event.to_state, event.actor) == (
        "published",
        "withdrawn",
        team["publisher"],
    )
    assert event.comment == "Se está revisando la traducción."
    assert translation.article.live_version_id is not None
    assert client.get("/articles/test-article/").status_code == 200
    spanish_page = client.get("/es/articles/test-article/")
    assert spanish_page.status_code == 410
    assert "Se está revisando la traducción." in spanish_page.content.decode()


def test_only_a_publisher_withdraws_a_translation(client, translation, team):
    _publish(client, translation, team)
    client.force_login(team["reviewer"])

    client.post(change_url(translation), {"_withdraw": "1", "withdraw_reason": "No."})

    translation.refresh_from_db()
    assert translation.status == "published" and translation.live_version_id is not None
