"""Translation files (issue 18, docs/article-format.md "Translations"): importing one
as a translation's draft, and exporting a draft as one. The rules are
`editorial.services.translations`'."""

from __future__ import annotations

from django.db import transaction

from articles.articlefile import ArticleFile
from articles.models import ArticleTranslation, ArticleVersion, TranslationEvent
from articles.roles import AUTHORS
from articles.services.translations import (
    translation_body_text,
    translation_file_text,
    translation_snapshot,
)
from editorial.services.translations import (
    T,
    language_check,
    role_check,
    state_check,
    translation_locked,
    translation_save,
)
from editorial.services.workflow import WorkflowError


@transaction.atomic
def translation_import(*, source: ArticleFile, user) -> ArticleTranslation:
    """Create or update a translation's draft from a translation file (`language` and
    `translation_of: <slug>@<n>` in its front matter; docs/article-format.md). The named
    version must be an approved version of the article; the text is checked like any
    save (rule "translation-facts"), and nothing is written if it fails."""
    if not source.language:
        raise WorkflowError(
            f"{source.path} has no language and translation_of: it is an article, not a "
            "translation (import it with import_article).",
            rule="translation-file",
        )
    language_check(source.language)
    slug, number = source.translation_of
    version = ArticleVersion.objects.filter(
        article__slug=slug, number=number, approved_at__isnull=False
    ).first()
    if version is None:
        raise WorkflowError(
            f"{source.path}: there is no approved version {number} of {slug!r} to translate.",
            rule="translation-source",
        )
    translation = ArticleTranslation.objects.filter(
        article_id=version.article_id, language=source.language
    ).first()
    if translation is None:
        role_check(user, AUTHORS, "translate")
        translation = ArticleTranslation.objects.create(
            article_id=version.article_id,
            language=source.language,
            source_version=version,
            title=source.title,
            last_edited_by=user,
        )
    else:
        translation_locked(translation)
        state_check(translation, {T.DRAFT, T.PUBLISHED, T.WITHDRAWN}, "import into")
        translation.source_version = version
        translation.save(update_fields=["source_version", "updated_at"])
    body = translation_body_text((s.heading, s.anchor, s.body) for s in source.sections)
    return translation_save(
        translation=translation,
        user=user,
        title=source.title,
        summary=source.summary,
        body=body,
        kind=TranslationEvent.Kind.IMPORT,
        comment=f"Imported from {source.path}",
    )


def translation_export_text(translation: ArticleTranslation) -> str:
    """The translation's draft as a translation file; `translation_import` reads it back."""
    return translation_file_text(translation_snapshot(translation))
