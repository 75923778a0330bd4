"""The review side of the article editor: the context around the text (state, checks,
claims, evidence changes, history, and the author's changes since the last review) and
the page comparing two versions.

Views only: reads, no writes; the rules live in `articles.services`.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from articles.models import (
    Article,
    Certainty,
    ClaimCitation,
    EvidenceFactChange,
    ReaderReport,
    ReviewEvent,
)
from articles.services.snapshots import draft_snapshot, last_review, snapshot_hash
from editorial.diffing import VersionDiff, diff_snapshots, inline_html
from editorial.services import workflow
from editorial.services.gates import article_gates

HOLDER = {
    Article.Status.DRAFT: _("With the author"),
    Article.Status.IN_REVIEW: _("Waiting for a Clinical reviewer"),
    Article.Status.CHANGES_REQUESTED: _("Back with the author: changes requested"),
    Article.Status.APPROVED: _("Approved: waiting for a Publisher"),
    Article.Status.PUBLISHED: _("Published"),
    Article.Status.WITHDRAWN: _("Withdrawn"),
}


def changed_sections(diff: VersionDiff) -> list[dict]:
    """The sections that changed, each with its changed sentences as inline HTML."""
    return [
        {
            "section": section,
            "changes": [
                {"change": change, "html": inline_html(change)}
                for change in section.sentences
                if change.kind != "equal"
            ],
        }
        for section in diff.sections
        if section.status != "unchanged"
    ]


def changes_since_review(article: Article, draft: dict) -> dict | None:
    """The author's changes since a Clinical reviewer last read the article (sent it
    back or approved it): the sentences, inline, and the claims added or changed, which
    the editor's preview outlines (issue 13, item 6). None when it was never reviewed."""
    review = last_review(article)
    if review is None:
        return None
    diff = diff_snapshots(review.snapshot, draft)
    changed_claims = {claim["id"] for claim in diff.claims_added}
    changed_claims.update(change.id for change in diff.claims_changed)
    return {
        "review": review,
        "diff": diff,
        "sections": changed_sections(diff),
        "claims": sorted(changed_claims),
        "summary": diff.summary_lines(),
    }


def review_context(request, article: Article) -> dict:
    """What the editor page shows around the text: state, checks, claims, history."""
    is_reviewer = workflow.user_in_group(request.user, workflow.CLINICAL_REVIEWERS)
    problems = article_gates(article=article, reviewer=request.user if is_reviewer else None)
    claims = list(
        article.claims.order_by("position")
        .select_related("section")
        .prefetch_related("claim_citations__citation")
    )
    comments: dict[str, list[ReviewEvent]] = {}
    events = list(
        article.events.select_related("actor", "version").order_by("-created_at", "-id")[:100]
    )
    for event in events:
        if event.claim_key:
            comments.setdefault(event.claim_key, []).append(event)
    open_reports: dict[str, list[ReaderReport]] = {}
    for report in article.reader_reports.filter(state__in=ReaderReport.OPEN_STATES):
        open_reports.setdefault(report.claim_key, []).append(report)
    rows = []
    for claim in claims:
        links = list(claim.claim_citations.all())
        rows.append(
            {
                "claim": claim,
                "supports": [
                    link for link in links if link.relation == ClaimCitation.Relation.SUPPORTS
                ],
                "contradicts": [
                    link for link in links if link.relation == ClaimCitation.Relation.CONTRADICTS
                ],
                "comments": comments.get(claim.key, [])[:3],
                "reports": open_reports.get(claim.key, []),
            }
        )
    versions = list(article.versions.order_by("-number").only("number", "published_at"))
    last_approved_at = (
        article.versions.exclude(approved_at=None)
        .order_by("-approved_at")
        .values_list("approved_at", flat=True)
        .first()
    )
    evidence_changes = EvidenceFactChange.objects.filter(
        citation_id__in=article.bibliography.values("citation_id")
    ).select_related("actor")
    if last_approved_at:
        evidence_changes = evidence_changes.filter(created_at__gt=last_approved_at)
    draft = draft_snapshot(article)
    return {
        "since_review": changes_since_review(article, draft),
        "last_approved_at": last_approved_at,
        "evidence_changes": list(evidence_changes.order_by("-created_at", "-id")[:200]),
        "topic_list": list(article.topics.order_by("name")),
        "holder": HOLDER[article.status],
        "problems": problems,
        "errors": [p for p in problems if p.is_error],
        "claim_rows": rows,
        "page_reports": open_reports.get("", []),
        "events": events,
        "transitions": workflow.available_transitions(article=article, user=request.user),
        "content_hash": snapshot_hash(draft),
        "versions": versions,
        "certainties": Certainty.choices,
        "can_grade": is_reviewer and article.status == Article.Status.IN_REVIEW,
        "scheduled": article.versions.filter(
            published_at__isnull=True, scheduled_for__isnull=False
        ).first(),
    }


def diff_view(model_admin):
    def view(request, pk: int):
        if not model_admin.has_view_or_change_permission(request):
            raise PermissionDenied  # before the lookup: the same answer for any pk
        article = get_object_or_404(Article, pk=pk)
        if not model_admin.has_view_or_change_permission(request, article):
            raise PermissionDenied
        old_ref = request.GET.get("old") or ("live" if article.live_version_id else "none")
        new_ref = request.GET.get("new") or "draft"
        old, new = _snapshot(article, old_ref), _snapshot(article, new_ref)
        if new is None:
            raise Http404(gettext("No such version."))
        diff = diff_snapshots(old, new)
        return TemplateResponse(
            request,
            "admin/articles/article_diff.html",
            {
                **model_admin.admin_site.each_context(request),
                "opts": Article._meta,
                "title": gettext("Changes in “%(title)s”") % {"title": article.title},
                "article": article,
                "diff": diff,
                "sections": changed_sections(diff),
                "old_ref": old_ref,
                "new_ref": new_ref,
                "versions": article.versions.order_by("-number").only("number"),
            },
        )

    return view


def _snapshot(article: Article, ref: str) -> dict | None:
    if ref == "draft":
        return draft_snapshot(article)
    if ref == "reviewed":
        review = last_review(article)
        return review.snapshot if review else None
    if ref == "live":
        return article.live_version.snapshot if article.live_version_id else None
    if ref.isascii() and ref.isdigit():  # "²" is a digit to str.isdigit, not to int()
        version = article.versions.filter(number=int(ref)).only("snapshot").first()
        return version.snapshot if version else None
    return None
