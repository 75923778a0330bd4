"""When the English moves on (issue 18): which claims of a translation no longer say
what the live English says, and a translation never outliving its source."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from articles.models import Article, ArticleTranslation
from articles.services.translations import translation_withdraw
from editorial.services.translations import translation_event


@dataclass(frozen=True)
class StaleClaim:
    """A claim of a published translation that no longer says what the English says."""

    id: str
    reasons: tuple[str, ...]  # of "text", "grade", "citations", "added", "removed"
    source_statement: str  # the live English statement ("" when removed)


def _facts(claim: dict) -> tuple:
    supports = [(ref["key"], ref.get("locator", "")) for ref in claim.get("supports") or []]
    return supports, list(claim.get("contradicts") or [])


def claims_changed_between(old: dict, new: dict) -> list[StaleClaim]:
    """The claims whose text, grade or citations differ between two source snapshots,
    plus those added or removed, in the new version's order (removed ones last).

    Not `editorial.diffing`'s claim diff: that matches citations by DOI and ignores
    locators, as a reviewer reads a change; a translation carries the keys and locators
    verbatim, so any change to them means the translation must change too."""
    before = {claim["id"]: claim for claim in old.get("claims") or []}
    stale = []
    for claim in new.get("claims") or []:
        was = before.pop(claim["id"], None)
        if was is None:
            stale.append(StaleClaim(claim["id"], ("added",), claim["statement"]))
            continue
        reasons = []
        if was["statement"] != claim["statement"]:
            reasons.append("text")
        if (was.get("certainty") or "") != (claim.get("certainty") or ""):
            reasons.append("grade")
        if _facts(was) != _facts(claim):
            reasons.append("citations")
        if reasons:
            stale.append(StaleClaim(claim["id"], tuple(reasons), claim["statement"]))
    stale += [StaleClaim(key, ("removed",), "") for key in before]
    return stale


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
