"""An article's draft as plain data (`draft_snapshot`): what a version freezes, what
the reviewer approves and what its content hash covers (`snapshot_hash`: SHA-256 over
the exported article file and its bibliography, so equal hashes mean equal content,
whichever database or import produced it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from articles.articlefile import write_article_text
from articles.models import Article, Citation, ClaimCitation, ReviewEvent
from evidence import citations


def draft_snapshot(article: Article) -> dict:
    """The whole draft as plain data: what a version freezes and what its hash covers."""
    sections = list(article.sections.order_by("position"))
    claims = list(
        article.claims.order_by("position")
        .select_related("section")
        .prefetch_related("claim_citations__citation")
    )
    keys_by_citation = {
        link.citation_id: link.key for link in article.bibliography.select_related("citation")
    }
    bibliography = {
        link.key: _csl_for_key(link.citation, link.key)
        for link in article.bibliography.select_related("citation")
    }
    return {
        "slug": article.slug,
        "title": article.title,
        "summary": article.summary,
        "topics": sorted(article.topics.values_list("slug", flat=True)),
        # The names readers will see, as the reviewer approved them (not in the file format
        # or the content hash: see docs/security.md, "Evidence facts and topics").
        "topic_names": dict(article.topics.order_by("slug").values_list("slug", "name")),
        "audience": article.audience,
        "review_interval_months": article.review_interval_months,
        "sections": [{"heading": s.heading, "anchor": s.anchor, "body": s.body} for s in sections],
        "claims": [
            {
                "id": claim.key,
                "section": claim.section.anchor,
                "statement": claim.statement,
                "certainty": claim.certainty,
                "supports": [
                    {"key": keys_by_citation[link.citation_id], "locator": link.locator}
                    for link in claim.claim_citations.all()
                    if link.relation == ClaimCitation.Relation.SUPPORTS
                ],
                "contradicts": [
                    keys_by_citation[link.citation_id]
                    for link in claim.claim_citations.all()
                    if link.relation == ClaimCitation.Relation.CONTRADICTS
                ],
            }
            for claim in claims
        ],
        "bibliography": bibliography,
        "citation_meta": {
            link.key: {
                "study_design": link.citation.study_design,
                "retraction_status": link.citation.retraction_status,
            }
            for link in article.bibliography.select_related("citation")
        },
    }


def _csl_for_key(citation: Citation, key: str) -> dict:
    item = dict(citation.csl)
    item["id"] = key
    return item


def snapshot_article_text(snapshot: dict) -> str:
    return write_article_text(
        title=snapshot["title"],
        slug=snapshot["slug"],
        summary=snapshot["summary"],
        topics=snapshot["topics"],
        audience=snapshot["audience"],
        review_interval_months=snapshot["review_interval_months"],
        sections=[(s["heading"], s["anchor"], s["body"]) for s in snapshot["sections"]],
        bibliography_name=f"{snapshot['slug']}.json" if snapshot["bibliography"] else None,
    )


def snapshot_bibliography_text(snapshot: dict) -> str:
    items = [snapshot["bibliography"][key] for key in sorted(snapshot["bibliography"])]
    return citations.dump_csl_json(items)


def snapshot_hash(snapshot: dict) -> str:
    """SHA-256 over the exported article file and its bibliography: equal hashes mean
    equal content, whichever database or import produced it."""
    digest = hashlib.sha256()
    digest.update(snapshot_article_text(snapshot).encode())
    digest.update(b"\0")
    digest.update(snapshot_bibliography_text(snapshot).encode())
    return digest.hexdigest()


def article_content_hash(article: Article) -> str:
    return snapshot_hash(draft_snapshot(article))


@dataclass(frozen=True)
class LastReview:
    """The content a Clinical reviewer last read and acted on: the draft they sent back,
    or the version they approved, whichever came later."""

    snapshot: dict
    at: datetime
    reviewer: str  # the reviewer's name as staff know it, or "" when unknown
    outcome: str  # "changes requested" or "approved"


def last_review(article: Article) -> LastReview | None:
    """Two indexed reads: the newest request for changes that stored its draft, and the
    newest approved version."""
    sent_back = (
        ReviewEvent.objects.filter(
            article=article,
            kind=ReviewEvent.Kind.TRANSITION,
            to_state=Article.Status.CHANGES_REQUESTED,
            reviewed_snapshot__isnull=False,
        )
        .select_related("actor__profile")
        .order_by("-created_at", "-id")
        .first()
    )
    approved = (
        article.versions.exclude(approved_at=None)
        .select_related("reviewer__profile")
        .order_by("-approved_at", "-id")
        .first()
    )
    if approved and (sent_back is None or approved.approved_at >= sent_back.created_at):
        return LastReview(
            approved.snapshot, approved.approved_at, _staff_name(approved.reviewer), "approved"
        )
    if sent_back:
        return LastReview(
            sent_back.reviewed_snapshot,
            sent_back.created_at,
            _staff_name(sent_back.actor),
            "changes requested",
        )
    return None


def _staff_name(user) -> str:
    if user is None:
        return ""
    profile = getattr(user, "profile", None)
    return getattr(profile, "display_name", "") or user.get_username()
