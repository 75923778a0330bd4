"""Freezing a translation's draft into an immutable TranslationVersion, and making it live.

A translation version's snapshot has the shape of an article version's (sections,
claims, bibliography), so it is rendered by the same renderer and checked by the same
`snapshot_verify`: the page says what the snapshot says, and the snapshot's claims are
what its own Markdown gives. Its evidence facts (claim ids, grades, citations with
locators) are copied from the source version it translates; only the statements come
from the translated text, and `snapshot_verify` then proves the text carries exactly
those facts. Who may do what is decided in `editorial.services.translations`.
"""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from articles.articlefile import write_article_text
from articles.models import (
    ArticleTranslation,
    ArticleVersion,
    TopicTranslation,
    TranslationVersion,
)
from articles.plaintext import document_text
from articles.rendering import parse_body
from articles.services.snapshots import snapshot_bibliography_text
from articles.services.versions import reviewer_public_fields, snapshot_render, snapshot_verify
from articles.signals import send_after_commit, translation_published, translation_withdrawn


class TranslationConflictError(Exception):
    """Someone else saved the translation since this edit began (optimistic lock)."""

    def __init__(self, translation: ArticleTranslation, *, expected: int, current: int):
        self.translation = translation
        self.expected = expected
        self.current = current
        super().__init__(
            f"The {translation.language} translation of {translation.article.slug} was saved "
            f"by someone else (version {current}, you edited {expected}); reload it and "
            "make your change again."
        )


def translation_body_text(sections) -> str:
    """The Markdown body with every heading's anchor written out (`## Título {#anchor}`):
    a translated heading would otherwise give a different anchor. `sections` are
    (heading, anchor, body) triples."""
    parts = []
    for heading, anchor, body in sections:
        if heading:
            parts.append(f"## {heading} {{#{anchor}}}\n")
        if body.strip():
            parts.append(body.strip("\n") + "\n")
    return "\n".join(parts)


def source_body_text(version: ArticleVersion) -> str:
    """A source version's body, as a translation draft starts."""
    return translation_body_text(
        (s["heading"], s["anchor"], s["body"]) for s in version.snapshot["sections"]
    )


def translation_reference(version: ArticleVersion) -> str:
    """How a translation names its source: `<slug>@<version number>`."""
    return f"{version.snapshot['slug']}@{version.number}"


def translation_topic_names(translation: ArticleTranslation) -> dict[str, str]:
    """The source's topics named in the translation's language (TopicTranslation), or
    as the source version names them where a topic has no name in that language. A
    translation version keeps them as its reviewer approved them, as an article version
    keeps its English names. Not part of the content hash: the file names topics by slug."""
    names = dict(translation.source_version.snapshot.get("topic_names") or {})
    names.update(
        TopicTranslation.objects.filter(
            language=translation.language,
            topic__slug__in=translation.source_version.snapshot.get("topics") or [],
        )
        .exclude(name="")
        .values_list("topic__slug", "name")
    )
    return names


def translation_snapshot(translation: ArticleTranslation) -> dict:
    """The translation's draft as plain data. Raises ArticleFormatError if the body does
    not parse; the facts are the source's (check them first: editorial's
    `translation_facts_check`)."""
    source_version = translation.source_version
    source = source_version.snapshot
    parsed = parse_body(translation.body)
    statements = {claim.id: claim.statement for s in parsed for claim in s.claims}
    return {
        "language": translation.language,
        "translation_of": {
            "slug": source["slug"],
            "number": source_version.number,
            "content_hash": source_version.content_hash,
        },
        "slug": source["slug"],
        "title": translation.title,
        "summary": translation.summary,
        "topics": source["topics"],
        "topic_names": translation_topic_names(translation),
        "audience": source["audience"],
        "review_interval_months": source["review_interval_months"],
        "sections": [{"heading": s.heading, "anchor": s.anchor, "body": s.body} for s in parsed],
        "claims": [
            {**claim, "statement": statements.get(claim["id"], "")} for claim in source["claims"]
        ],
        "bibliography": source["bibliography"],
        "citation_meta": source.get("citation_meta", {}),
    }


def translation_file_text(snapshot: dict) -> str:
    """The translation as an article file (docs/article-format.md, "Translations")."""
    of = snapshot["translation_of"]
    return write_article_text(
        title=snapshot["title"],
        slug=snapshot["slug"],
        summary=snapshot["summary"],
        topics=snapshot["topics"],
        audience=snapshot["audience"],
        review_interval_months=snapshot["review_interval_months"],
        sections=[],
        bibliography_name=None,
        language=snapshot["language"],
        translation_of=f"{of['slug']}@{of['number']}",
    ) + translation_body_text((s["heading"], s["anchor"], s["body"]) for s in snapshot["sections"])


def translation_hash(snapshot: dict) -> str:
    """SHA-256 over the translation file and the bibliography it cites."""
    digest = hashlib.sha256()
    digest.update(translation_file_text(snapshot).encode())
    digest.update(b"\0")
    digest.update(snapshot_bibliography_text(snapshot).encode())
    return digest.hexdigest()


def translation_claim_lock(*, translation: ArticleTranslation, expected: int | None) -> None:
    """Check-and-bump the lock version in one UPDATE, so two saves can never both win."""
    if expected is None:
        expected = translation.lock_version
    updated = ArticleTranslation.objects.filter(pk=translation.pk, lock_version=expected).update(
        lock_version=F("lock_version") + 1
    )
    if not updated:
        current = ArticleTranslation.objects.get(pk=translation.pk).lock_version
        raise TranslationConflictError(translation, expected=expected, current=current)
    translation.lock_version = expected + 1


@transaction.atomic
def translation_version_create(
    *, translation: ArticleTranslation, translator, reviewer, approved_at=None
) -> TranslationVersion:
    """Freeze the translation's draft as its next numbered version, approved by `reviewer`.
    Raises RenderedMismatchError when the page would not say what the snapshot says."""
    snapshot = translation_snapshot(translation)
    html = snapshot_render(snapshot)
    snapshot_verify(snapshot, html)
    number = (translation.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    public = reviewer_public_fields(reviewer)
    return TranslationVersion.objects.create(
        translation=translation,
        number=number,
        source_version=translation.source_version,
        language=translation.language,
        title=snapshot["title"],
        summary=snapshot["summary"],
        snapshot=snapshot,
        html=html,
        search_text=document_text(html),
        content_hash=translation_hash(snapshot),
        translator=translator,
        reviewer=reviewer,
        reviewer_name=public["reviewer_name"],
        reviewer_credentials=public["reviewer_credentials"],
        approved_at=approved_at or timezone.now(),
    )


@transaction.atomic
def translation_version_publish(*, version: TranslationVersion, at=None) -> TranslationVersion:
    """Make an approved translation version the live one. Refused (RenderedMismatchError)
    unless the stored page still says what the approved snapshot says."""
    snapshot_verify(version.snapshot, version.html)
    at = at or timezone.now()
    translation = ArticleTranslation.objects.select_for_update().get(pk=version.translation_id)
    TranslationVersion.objects.filter(pk=version.pk, published_at__isnull=True).update(
        published_at=at
    )
    version.refresh_from_db()
    translation.live_version = version
    translation.status = ArticleTranslation.Status.PUBLISHED
    translation.withdrawn_reason = ""
    translation.save(update_fields=["live_version", "status", "withdrawn_reason", "updated_at"])
    send_after_commit(translation_published, article=translation.article, translation=translation)
    return version


@transaction.atomic
def translation_withdraw(*, translation: ArticleTranslation, reason: str, at=None) -> None:
    """Take the live translation down; its versions stay stored."""
    at = at or timezone.now()
    translation = ArticleTranslation.objects.select_for_update().get(pk=translation.pk)
    if translation.live_version_id:
        TranslationVersion.objects.filter(
            pk=translation.live_version_id, withdrawn_at__isnull=True
        ).update(withdrawn_at=at)
    translation.live_version = None
    translation.status = ArticleTranslation.Status.WITHDRAWN
    translation.withdrawn_reason = reason
    translation.save(update_fields=["live_version", "status", "withdrawn_reason", "updated_at"])
    send_after_commit(translation_withdrawn, article=translation.article, translation=translation)
