"""The editorial workflow: one transition table and one service per transition.

    draft -> in_review -> changes_requested -> draft
                       -> approved -> published -> withdrawn
    published -> in_review                 (re-review of unchanged content)

Rules enforced here, whichever way an action arrives (admin, command line, tests):
- each transition names the group that may take it; the refusal says which rule;
- only a Clinical reviewer approves, and never a draft they authored or edited;
- approval names the exact content hash; an edit afterwards voids it (see drafts);
- approval is refused while any publication gate reports an error;
- a grade changes exactly the claim graded, as the parser reads it (`claim_grade`);
- every write here ends by checking that the stored claims are what the draft's text
  says (rule "draft-integrity"), and approval and publication check that the rendered
  page says what the approved snapshot says (rules "rendered-matches-snapshot",
  "snapshot-matches-text");
- every transition writes an append-only ReviewEvent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC as datetime_UTC
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from articles.models import Article, ArticleVersion, ReviewEvent
from articles.roles import AUTHORS, CLINICAL_REVIEWERS, PUBLISHERS
from articles.services.consistency import DraftIntegrityError, draft_verify
from articles.services.snapshots import article_content_hash, draft_snapshot, snapshot_hash
from articles.services.versions import (
    RenderedMismatchError,
    version_create,
    version_publish,
)
from articles.signals import article_withdrawn, send_after_commit
from editorial.services.gates import article_gates

S = Article.Status
logger = logging.getLogger(__name__)


class WorkflowError(Exception):
    """An action refused by a workflow rule; the message says which rule and why."""

    def __init__(self, message: str, *, rule: str, problems=()):
        self.rule = rule
        self.problems = list(problems)
        super().__init__(message)


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str
    group: str
    comment_required: bool = False
    label: str = ""  # shown to staff: translated (gettext_lazy)


# The action, as the refusals name it: "cannot %(action)s ...".
ACTION_NAMES = {
    "submit": pgettext_lazy("action", "submit"),
    "request_changes": pgettext_lazy("action", "request changes"),
    "revise": pgettext_lazy("action", "revise"),
    "approve": pgettext_lazy("action", "approve"),
    "publish": pgettext_lazy("action", "publish"),
    "schedule": pgettext_lazy("action", "schedule"),
    "withdraw": pgettext_lazy("action", "withdraw"),
}

TRANSITIONS = {
    t.name: t
    for t in (
        Transition("submit", frozenset({S.DRAFT, S.PUBLISHED}), S.IN_REVIEW, AUTHORS,
                   label=_("Submit for clinical review")),
        Transition("request_changes", frozenset({S.IN_REVIEW}), S.CHANGES_REQUESTED,
                   CLINICAL_REVIEWERS, comment_required=True, label=_("Request changes")),
        Transition("revise", frozenset({S.CHANGES_REQUESTED}), S.DRAFT, AUTHORS,
                   label=_("Back to draft")),
        Transition("approve", frozenset({S.IN_REVIEW}), S.APPROVED, CLINICAL_REVIEWERS,
                   label=_("Approve this exact version")),
        Transition("publish", frozenset({S.APPROVED}), S.PUBLISHED, PUBLISHERS,
                   label=_("Publish now")),
        Transition("schedule", frozenset({S.APPROVED}), S.APPROVED, PUBLISHERS,
                   label=_("Schedule publication")),
        Transition("withdraw", frozenset({S.PUBLISHED, S.DRAFT, S.IN_REVIEW,
                                          S.CHANGES_REQUESTED, S.APPROVED}),
                   S.WITHDRAWN, PUBLISHERS, comment_required=True, label=_("Withdraw")),
    )
}  # fmt: skip


def user_in_group(user, group: str) -> bool:
    if user is None or not user.is_active:
        return False
    cache = getattr(user, "_ptsdinfo_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._ptsdinfo_groups = cache
    return group in cache


def may_take(user, transition: Transition) -> bool:
    """Group check; superusers may take any transition except approval (four eyes
    and clinical sign-off hold for everyone)."""
    if transition.name == "approve":
        return user_in_group(user, CLINICAL_REVIEWERS)
    return bool(user and user.is_active and user.is_superuser) or user_in_group(
        user, transition.group
    )


def available_transitions(*, article: Article, user) -> list[Transition]:
    return [
        t
        for t in TRANSITIONS.values()
        if article.status in t.sources
        and may_take(user, t)
        and (t.name != "withdraw" or article.live_version_id)
    ]


def draft_editors(article: Article) -> set[int]:
    """Users who authored or edited the draft since the last approval (four-eyes set)."""
    last = article.versions.filter(approved_at__isnull=False).order_by("-number").first()
    edits = article.events.filter(kind__in=[ReviewEvent.Kind.IMPORT, ReviewEvent.Kind.EDIT])
    if last is not None:
        edits = edits.filter(created_at__gt=last.approved_at)
    editors = set(edits.exclude(actor=None).values_list("actor_id", flat=True))
    if article.owner_id:
        editors.add(article.owner_id)
    if article.last_edited_by_id:
        editors.add(article.last_edited_by_id)
    return editors


def _check(article: Article, user, name: str, comment: str) -> Transition:
    transition = TRANSITIONS[name]
    if article.status not in transition.sources:
        raise WorkflowError(
            gettext(
                "Cannot %(action)s %(slug)s: it is %(state)r; this action needs one of: %(states)s."
            )
            % {
                "action": ACTION_NAMES[name],
                "slug": article.slug,
                "state": str(article.get_status_display()),
                "states": ", ".join(sorted(transition.sources)),
            },
            rule="transition-table",
        )
    if not may_take(user, transition):
        who = user.get_username() if user else gettext("nobody")
        raise WorkflowError(
            gettext("%(who)s may not %(action)s: only members of %(group)r may.")
            % {"who": who, "action": ACTION_NAMES[name], "group": transition.group},
            rule="role",
        )
    if transition.comment_required and not comment.strip():
        raise WorkflowError(
            gettext("%(action)s needs a comment saying why.")
            % {"action": str(ACTION_NAMES[name]).capitalize()},
            rule="comment-required",
        )
    return transition


def _record(
    article,
    user,
    *,
    source,
    target,
    comment="",
    version=None,
    content_hash="",
    reviewed_snapshot=None,
):
    return ReviewEvent.objects.create(
        article=article,
        actor=user,
        version=version,
        kind=ReviewEvent.Kind.TRANSITION,
        from_state=source,
        to_state=target,
        content_hash=content_hash or article_content_hash(article),
        comment=comment,
        reviewed_snapshot=reviewed_snapshot,
    )


def _locked(article: Article) -> Article:
    fresh = Article.objects.select_for_update().get(pk=article.pk)
    article.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    return article


@transaction.atomic
def article_submit(*, article: Article, user, comment: str = "") -> ReviewEvent:
    """Send the draft (or unchanged live content, for a re-review) to clinical review."""
    _locked(article)
    transition = _check(article, user, "submit", comment)
    source = article.status
    article.status = transition.target
    article.save(update_fields=["status", "updated_at"])
    return _record(article, user, source=source, target=transition.target, comment=comment)


@transaction.atomic
def article_request_changes(
    *, article: Article, user, comment: str, claim_comments: dict[str, str] | None = None
) -> ReviewEvent:
    """A reviewer sends the draft back with a comment, and optionally per-claim comments."""
    _locked(article)
    transition = _check(article, user, "request_changes", comment)
    known = set(article.claims.values_list("key", flat=True))
    unknown = sorted(set(claim_comments or {}) - known)
    if unknown:
        raise WorkflowError(
            gettext("No such claim: %(keys)s.") % {"keys": ", ".join(unknown)},
            rule="claim-comment",
        )
    reviewed = draft_snapshot(article)
    event = _record(
        article,
        user,
        source=article.status,
        target=transition.target,
        comment=comment,
        content_hash=snapshot_hash(reviewed),
        reviewed_snapshot=reviewed,
    )
    for key, text in (claim_comments or {}).items():
        ReviewEvent.objects.create(
            article=article,
            actor=user,
            kind=ReviewEvent.Kind.COMMENT,
            claim_key=key,
            comment=text,
            content_hash=event.content_hash,
        )
    article.status = transition.target
    article.save(update_fields=["status", "updated_at"])
    return event


@transaction.atomic
def article_revise(*, article: Article, user, comment: str = "") -> ReviewEvent:
    _locked(article)
    transition = _check(article, user, "revise", comment)
    event = _record(article, user, source=article.status, target=transition.target, comment=comment)
    article.status = transition.target
    article.save(update_fields=["status", "updated_at"])
    return event


@transaction.atomic
def article_approve(
    *,
    article: Article,
    user,
    comment: str = "",
    change_summary: str | None = None,
    expected_hash: str | None = None,
) -> ArticleVersion:
    """A clinical reviewer approves the exact current draft, freezing it as a version.

    Refused when: the user is not a Clinical reviewer; they authored or edited this
    draft (four eyes); the draft changed since they reviewed it (`expected_hash`); or
    any publication gate reports an error (each one is named).
    """
    _locked(article)
    transition = _check(article, user, "approve", comment)
    if user.pk in draft_editors(article):
        raise WorkflowError(
            gettext(
                "%(who)s authored or edited this draft and so cannot approve it: "
                "a second clinician must (four eyes)."
            )
            % {"who": user.get_username()},
            rule="four-eyes",
        )
    content_hash = article_content_hash(article)
    if expected_hash and expected_hash != content_hash:
        raise WorkflowError(
            gettext(
                "The draft changed after you reviewed it; review the new content before approving."
            ),
            rule="content-hash",
        )
    _verify_draft(article)
    errors = [p for p in article_gates(article=article, reviewer=user) if p.is_error]
    if errors:
        raise WorkflowError(
            gettext("Approval refused while these problems stand:")
            + "\n"
            + "\n".join(f"- {p.message}" for p in errors),
            rule="gates",
            problems=errors,
        )
    if change_summary is None:
        change_summary = _latest_submit_comment(article)
    try:
        version = version_create(
            article=article,
            author=article.last_edited_by or article.owner,
            reviewer=user,
            change_summary=change_summary,
        )
    except RenderedMismatchError as exc:
        raise _mismatch_refusal(exc, gettext("Approval")) from exc
    article.status = transition.target
    article.last_reviewed = version.last_reviewed
    article.next_review_due = version.next_review_due
    article.save(update_fields=["status", "last_reviewed", "next_review_due", "updated_at"])
    _record(
        article,
        user,
        source=S.IN_REVIEW,
        target=transition.target,
        comment=comment,
        version=version,
        content_hash=version.content_hash,
    )
    return version


def _mismatch_refusal(exc: RenderedMismatchError, action: str) -> WorkflowError:
    return WorkflowError(
        gettext(
            "%(action)s refused: the page readers would get does not say what the reviewer "
            "approved: %(problems)s."
        )
        % {"action": action, "problems": "; ".join(exc.problems)},
        rule=exc.rule,
        problems=exc.problems,
    )


def _latest_submit_comment(article: Article) -> str:
    event = (
        article.events.filter(kind=ReviewEvent.Kind.TRANSITION, to_state=S.IN_REVIEW)
        .exclude(comment="")
        .order_by("-created_at", "-id")
        .first()
    )
    return event.comment if event else ""


def approved_version(article: Article) -> ArticleVersion:
    """The approved, unpublished version that matches the current draft exactly."""
    version = article.versions.filter(published_at__isnull=True).order_by("-number").first()
    if version is None or version.content_hash != article_content_hash(article):
        raise WorkflowError(
            gettext("There is no approval for the current content; it must be approved again."),
            rule="content-hash",
        )
    return version


@transaction.atomic
def article_publish(*, article: Article, user, comment: str = "") -> ArticleVersion:
    """Make the approved version live now. The previous live version stays stored."""
    _locked(article)
    transition = _check(article, user, "publish", comment)
    version = approved_version(article)
    try:
        version_publish(version=version)
    except RenderedMismatchError as exc:
        raise _mismatch_refusal(exc, gettext("Publication")) from exc
    article.refresh_from_db()
    _record(
        article,
        user,
        source=S.APPROVED,
        target=transition.target,
        comment=comment,
        version=version,
        content_hash=version.content_hash,
    )
    return version


@transaction.atomic
def article_schedule(*, article: Article, user, at: datetime, comment: str = "") -> ArticleVersion:
    """Give the approved version a go-live time; `publish_scheduled` publishes it."""
    _locked(article)
    _check(article, user, "schedule", comment)
    if timezone.is_naive(at):
        raise WorkflowError(
            gettext("The go-live time needs a time zone (e.g. +00:00)."), rule="schedule"
        )
    try:
        at = at.astimezone(datetime_UTC)  # stored in UTC; 9999-12-31T23:59:59-12:00 overflows
    except OverflowError:
        raise WorkflowError(gettext("The go-live time is out of range."), rule="schedule") from None
    if at <= timezone.now():
        raise WorkflowError(gettext("The go-live time must be in the future."), rule="schedule")
    version = approved_version(article)
    ArticleVersion.objects.filter(pk=version.pk).update(scheduled_for=at)
    version.scheduled_for = at
    _record(
        article,
        user,
        source=S.APPROVED,
        target=S.APPROVED,
        comment=comment or f"Scheduled to go live at {at.isoformat()}",
        version=version,
        content_hash=version.content_hash,
    )
    return version


def publish_scheduled(*, now: datetime | None = None) -> list[ArticleVersion]:
    """Publish every scheduled version that is due. Safe to run every minute, from
    several machines at once: each version is locked and re-checked before publishing."""
    now = now or timezone.now()
    published = []
    due = ArticleVersion.objects.filter(
        scheduled_for__lte=now, published_at__isnull=True, article__status=S.APPROVED
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            version = (
                ArticleVersion.objects.select_for_update()
                .filter(pk=pk, published_at__isnull=True)
                .first()
            )
            if version is None:
                continue
            article = Article.objects.select_for_update().get(pk=version.article_id)
            if article.status != S.APPROVED:
                continue
            try:
                current = approved_version(article)
            except WorkflowError:
                continue
            if current.pk != version.pk:
                continue
            try:
                version_publish(version=version, at=now)
            except RenderedMismatchError as exc:
                # Stays approved and scheduled: the trail says why it did not go live.
                refusal = _mismatch_refusal(exc, gettext("Scheduled publication"))
                text = f"{refusal} (rule {refusal.rule})"
                logger.error("%s: %s", article.slug, text)
                if not article.events.filter(version=version, comment=text).exists():
                    ReviewEvent.objects.create(
                        article=article,
                        kind=ReviewEvent.Kind.COMMENT,
                        version=version,
                        content_hash=version.content_hash,
                        comment=text,
                    )
                continue
            article.refresh_from_db()
            _record(
                article,
                None,
                source=S.APPROVED,
                target=S.PUBLISHED,
                comment="Published on schedule.",
                version=version,
                content_hash=version.content_hash,
            )
            published.append(version)
    return published


@transaction.atomic
def article_withdraw(*, article: Article, user, reason: str) -> ReviewEvent:
    """Take the article off the site: readers see a tombstone with the reason.

    Every version is kept; nothing is deleted.
    """
    _locked(article)
    transition = _check(article, user, "withdraw", reason)
    if article.live_version_id is None:
        raise WorkflowError(
            gettext("Only a published article can be withdrawn."), rule="transition-table"
        )
    now = timezone.now()
    ArticleVersion.objects.filter(Q(pk=article.live_version_id), withdrawn_at__isnull=True).update(
        withdrawn_at=now
    )
    source = article.status
    article.status = transition.target
    article.live_version = None
    article.withdrawn_reason = reason.strip()
    article.save(update_fields=["status", "live_version", "withdrawn_reason", "updated_at"])
    send_after_commit(article_withdrawn, article=article)
    return _record(article, user, source=source, target=transition.target, comment=reason)


ACTIONS = {
    "submit": article_submit,
    "request_changes": article_request_changes,
    "revise": article_revise,
    "approve": article_approve,
    "publish": article_publish,
    "schedule": article_schedule,
    "withdraw": article_withdraw,
}


def _verify_draft(article: Article) -> None:
    """`draft_verify` as a workflow refusal (rule "draft-integrity"): the caller's
    transaction rolls back whatever it wrote."""
    try:
        draft_verify(article=article)
    except DraftIntegrityError as exc:
        raise WorkflowError(
            gettext(
                "The stored claims do not match the draft's text: %(problems)s. Nothing was "
                "changed; the author must save the draft again."
            )
            % {"problems": "; ".join(exc.problems)},
            rule="draft-integrity",
            problems=exc.problems,
        ) from exc
