"""The admin dashboard's "waiting for you" list."""

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.translation import gettext

from articles.models import Article, FoundEvidence, ReaderReport
from articles.roles import AUTHORS, CLINICAL_REVIEWERS, PUBLISHERS
from editorial.services import watch
from editorial.services.workflow import draft_editors, user_in_group

register = template.Library()


@register.simple_tag
def work_queue(user) -> list[tuple[str, list[Article]]]:
    """Groups of articles that wait for this user, by the role that lets them act."""
    queue = []
    if user_in_group(user, CLINICAL_REVIEWERS):
        in_review = Article.objects.filter(status=Article.Status.IN_REVIEW).order_by("updated_at")
        mine = [a for a in in_review[:50] if user.pk not in draft_editors(a)]
        queue.append((gettext("To review"), mine))
    if user_in_group(user, AUTHORS):
        queue.append(
            (
                gettext("Changes requested"),
                list(
                    Article.objects.filter(status=Article.Status.CHANGES_REQUESTED).order_by(
                        "updated_at"
                    )[:50]
                ),
            )
        )
    if user_in_group(user, PUBLISHERS) or user.is_superuser:
        queue.append(
            (
                gettext("Approved, ready to publish"),
                list(Article.objects.filter(status=Article.Status.APPROVED)[:50]),
            )
        )
    soon = timezone.localdate() + timedelta(days=30)
    queue.append(
        (
            gettext("Clinical review due within 30 days"),
            list(
                Article.objects.live().filter(next_review_due__lte=soon).order_by("next_review_due")
            ),
        )
    )
    return queue


@register.simple_tag
def open_reader_reports() -> int:
    """Reader reports still new or accepted (issue 17), for the dashboard."""
    return ReaderReport.objects.filter(state__in=ReaderReport.OPEN_STATES).count()


@register.simple_tag
def new_evidence() -> dict:
    """Works the evidence watch found that no editor has decided about yet (issue 17)."""
    return {
        "count": FoundEvidence.objects.filter(state=FoundEvidence.State.NEW).count(),
        "articles": watch.new_evidence_by_article(),
    }
