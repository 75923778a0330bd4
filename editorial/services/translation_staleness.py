"""When the English moves on (issue 18): which claims of a translation no longer say
what the live English says, and a translation never outliving its source."""

from __future__ import annotations

from django.db import transaction

from articles.models import Article, ArticleTranslation
from articles.services.translations import translation_withdraw

# The comparison itself is pure and lives in articles, where the public site reads it too.
from articles.translation_changes import StaleClaim, claims_changed_between
from editorial.services.translations import translation_event

__all__ = ["StaleClaim", "claims_changed_between", "stale_claims"]


def stale_claims(translation: ArticleTranslation) -> list[StaleClaim]:
    """For a published translation: the claims whose English changed between the
    version it translates and the article's live version ([] when up to date, not
    published, or the article is not live)."""
    live = translation.live_version
    current = translation.article.live_version
    if live is None or current is None or live.source_version_id == current.pk:
        return []
    return claims_changed_between(live.source_version.snapshot, current.snapshot)


def withdraw_translations_with_article(sender, *, article: Article, **kwargs) -> None:
    """Receiver of `article_withdrawn`: a translation never outlives its source."""
    reason = f"The source article was withdrawn: {article.withdrawn_reason}".strip()
    for translation in ArticleTranslation.objects.filter(
        article_id=article.pk, live_version__isnull=False
    ):
        with transaction.atomic():
            source, version = translation.status, translation.live_version
            translation_withdraw(translation=translation, reason=reason)
            translation.refresh_from_db()
            translation_event(translation, None, source=source, version=version, comment=reason)
