"""Freezing a draft into an immutable ArticleVersion and making it the live page."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from articles.models import Article, ArticleVersion
from articles.plaintext import document_text
from articles.rendering import render_sections
from articles.services.drafts import draft_snapshot, snapshot_hash
from articles.signals import article_published, send_after_commit


class RenderingError(ValueError):
    pass


def snapshot_render(snapshot: dict, *, strict: bool = True) -> str:
    """Render a snapshot once, at approval; readers are served the stored HTML.

    `strict=False` (the draft preview) renders unknown keys as [?key] instead of failing."""
    rendered = render_sections(
        [(s["heading"], s["anchor"], s["body"]) for s in snapshot["sections"]],
        snapshot["bibliography"],
    )
    if strict and rendered.unknown_keys:
        raise RenderingError(f"unknown citation keys: {', '.join(rendered.unknown_keys)}")
    return rendered.html


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=candidate)
        except ValueError:
            continue
    raise ValueError(day)


def reviewer_public_fields(reviewer) -> dict:
    profile = getattr(reviewer, "profile", None) if reviewer else None
    if profile is None:
        name = reviewer.get_full_name() or reviewer.get_username() if reviewer else ""
        return {"reviewer_name": name, "reviewer_credentials": "", "reviewer_coi": ""}
    return {
        "reviewer_name": profile.display_name,
        "reviewer_credentials": profile.credentials,
        "reviewer_coi": profile.conflict_of_interest,
    }


@transaction.atomic
def version_create(
    *, article: Article, author, reviewer, change_summary: str = "", approved_at=None
) -> ArticleVersion:
    """Freeze the current draft as the next numbered version, approved by `reviewer`."""
    approved_at = approved_at or timezone.now()
    snapshot = draft_snapshot(article)
    last_reviewed = timezone.localdate(approved_at)
    number = (article.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    html = snapshot_render(snapshot)
    return ArticleVersion.objects.create(
        article=article,
        number=number,
        title=snapshot["title"],
        summary=snapshot["summary"],
        snapshot=snapshot,
        html=html,
        search_text=document_text(html),
        content_hash=snapshot_hash(snapshot),
        change_summary=change_summary,
        author=author,
        reviewer=reviewer,
        approved_at=approved_at,
        last_reviewed=last_reviewed,
        next_review_due=add_months(last_reviewed, article.review_interval_months),
        **reviewer_public_fields(reviewer),
    )


@transaction.atomic
def version_publish(*, version: ArticleVersion, at=None) -> ArticleVersion:
    """Make an approved version the live page. Earlier live versions stay stored.

    Once the transaction commits, every cached public page that shows the article is
    invalidated (publish, re-review and scheduled publishing all come through here)."""
    at = at or timezone.now()
    article = Article.objects.select_for_update().get(pk=version.article_id)
    ArticleVersion.objects.filter(pk=version.pk, published_at__isnull=True).update(
        published_at=at, scheduled_for=None
    )
    version.refresh_from_db()
    article.live_version = version
    article.status = Article.Status.PUBLISHED
    article.last_reviewed = version.last_reviewed
    article.next_review_due = version.next_review_due
    article.withdrawn_reason = ""
    # A version approved after a source was retracted is live: the reader notice goes.
    article.retraction_notice = ""
    article.save(
        update_fields=[
            "live_version",
            "status",
            "last_reviewed",
            "next_review_due",
            "withdrawn_reason",
            "retraction_notice",
            "updated_at",
        ]
    )
    send_after_commit(article_published, article=article)
    return version
