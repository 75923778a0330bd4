"""Translations (issue 18): the fluency field, the models and their database guards."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from articles.models import ArticleTranslation, StaffProfile, TranslationVersion
from articles.services.translations import (
    translation_version_create,
    translation_version_publish,
)

pytestmark = pytest.mark.django_db


def test_staff_languages_are_codes_and_say_who_reads_what(team):
    profile = StaffProfile.objects.get(user=team["reviewer"])
    assert profile.language_codes == [] and not profile.reads("es")

    profile.languages = "es,fr"
    profile.save()
    assert profile.reads("es") and profile.reads("fr") and not profile.reads("de")

    for bad in ("Spanish", "es, fr", "es,", "ES"):
        profile.languages = bad
        with pytest.raises(IntegrityError), transaction.atomic():
            profile.save()


# --- translation versions are immutable -----------------------------------------------


@pytest.fixture
def translation(published_article, team):
    from articles.services.translations import source_body_text

    live = published_article.live_version
    return ArticleTranslation.objects.create(
        article=published_article,
        language="es",
        source_version=live,
        title="Artículo de prueba",
        summary="Lo que dice la investigación.",
        body=source_body_text(live).replace("PTSD treatments", "tratamientos del TEPT"),
        last_edited_by=team["author"],
    )


@pytest.fixture
def version(translation, team):
    return translation_version_create(
        translation=translation, translator=team["author"], reviewer=team["reviewer"]
    )


def test_a_translation_version_renders_the_translated_text_with_the_source_facts(version):
    assert "tratamientos del TEPT" in version.html
    lead = version.snapshot["claims"][0]
    assert lead["id"] == "lead-claim" and lead["statement"] == "tratamientos del TEPT"
    assert lead["supports"] == [{"key": "feder2014", "locator": ""}]
    assert version.snapshot["translation_of"]["number"] == 1
    assert version.source_version == version.translation.source_version


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Forged"},
        {"html": "<p>forged</p>"},
        {"snapshot": {}},
        {"reviewer_name": "Dr Forged"},
        {"source_version_id": None},
    ],
)
def test_translation_version_content_cannot_change(version, change):
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        TranslationVersion.objects.filter(pk=version.pk).update(**change)


def test_a_published_translation_version_is_never_deleted_nor_republished(version):
    published = translation_version_publish(version=version)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        TranslationVersion.objects.filter(pk=published.pk).delete()
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        TranslationVersion.objects.filter(pk=published.pk).update(
            published_at=published.published_at + timedelta(days=1)
        )
    # Only withdrawal's timestamp may move.
    TranslationVersion.objects.filter(pk=published.pk).update(withdrawn_at=published.published_at)


def test_only_configured_language_codes_and_one_translation_per_language(translation):
    with pytest.raises(IntegrityError), transaction.atomic():
        ArticleTranslation.objects.filter(pk=translation.pk).update(language="ES")
    with pytest.raises(IntegrityError), transaction.atomic():
        ArticleTranslation.objects.create(
            article=translation.article,
            language="es",
            source_version=translation.source_version,
            title="Otra",
        )
