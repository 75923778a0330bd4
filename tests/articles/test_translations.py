"""Translations (issue 18): the fluency field, the models and their database guards."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from articles.articlefile import ArticleFileError, parse_article_text, write_article_text
from articles.models import ArticleTranslation, StaffProfile, TranslationVersion
from articles.services.translations import (
    translation_version_create,
    translation_version_publish,
)
from tests.factories import import_article

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


# --- the file format ---------------------------------------------------------------------

TRANSLATION_FILE = """\
---
title: Artículo de prueba
slug: test-article
language: es
translation_of: test-article@1
---

[Texto [@feder2014]]{.claim #lead-claim certainty=low}
"""


def test_translation_front_matter_round_trips():
    parsed = parse_article_text(TRANSLATION_FILE)
    assert parsed.language == "es" and parsed.translation_of == ("test-article", 1)

    text = write_article_text(
        title=parsed.title,
        slug=parsed.slug,
        summary="",
        topics=[],
        audience="public",
        review_interval_months=12,
        sections=[(s.heading, s.anchor, s.body) for s in parsed.sections],
        bibliography_name=None,
        language="es",
        translation_of="test-article@1",
    )
    again = parse_article_text(text)
    assert (again.language, again.translation_of) == ("es", ("test-article", 1))
    assert "language: es\ntranslation_of: test-article@1\n" in text


def test_an_article_file_has_no_translation_fields():
    assert "language" not in write_article_text(
        title="T",
        slug="t",
        summary="",
        topics=[],
        audience="public",
        review_interval_months=12,
        sections=[],
        bibliography_name=None,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("translation_of: test-article@1\n", "", "'translation_of' is missing"),
        ("language: es\n", "", "'language' is missing"),
        ("language: es", "language: Spanish", "language must be a lowercase language code"),
        ("test-article@1", "test-article@0", "translation_of must be <slug>@<version number>"),
        ("test-article@1", "other-article@1", "a translation keeps its source's slug"),
    ],
)
def test_translation_front_matter_errors_name_the_problem(old, new, message):
    with pytest.raises(ArticleFileError) as error:
        parse_article_text(TRANSLATION_FILE.replace(old, new))
    assert message in str(error.value)


def test_importing_a_translation_file_as_an_article_is_refused(db, tmp_path):
    path = tmp_path / "test-article.es.md"
    path.write_text(TRANSLATION_FILE)
    with pytest.raises(ArticleFileError, match="import_translation"):
        import_article(path)


def test_a_body_that_changes_a_fact_cannot_be_frozen_even_past_the_services(translation, team):
    """Defence in depth: the version's facts are the source's, and the rendered-page
    check refuses text that does not carry them."""
    from articles.services.versions import RenderedMismatchError

    ArticleTranslation.objects.filter(pk=translation.pk).update(
        body=translation.body.replace("certainty=moderate", "certainty=high")
    )
    translation.refresh_from_db()
    with pytest.raises(RenderedMismatchError):
        translation_version_create(
            translation=translation, translator=team["author"], reviewer=team["reviewer"]
        )
    assert not TranslationVersion.objects.exists()


def test_translation_events_are_append_only(translation, team):
    from articles.models import TranslationEvent

    event = TranslationEvent.objects.create(
        translation=translation, actor=team["author"], kind="edit", to_state="draft",
        source_number=1,
    )  # fmt: skip
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        TranslationEvent.objects.filter(pk=event.pk).update(comment="rewritten")
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        TranslationEvent.objects.filter(pk=event.pk).delete()
