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
import re
from dataclasses import dataclass, replace
from datetime import UTC as datetime_UTC
from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from articles.articlefile import write_body_text
from articles.models import Article, ArticleVersion, Certainty, ReviewEvent
from articles.rendering import (
    MAX_ATTRIBUTE_CHARS,
    ArticleFormatError,
    parse_body,
    render_sections,
)
from articles.roles import AUTHORS, CLINICAL_REVIEWERS, PUBLISHERS
from articles.services.drafts import DraftIntegrityError, draft_verify
from articles.services.snapshots import article_content_hash
from articles.services.versions import (
    RenderedMismatchError,
    page_read,
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
    label: str = ""


TRANSITIONS = {
    t.name: t
    for t in (
        Transition("submit", frozenset({S.DRAFT, S.PUBLISHED}), S.IN_REVIEW, AUTHORS,
                   label="Submit for clinical review"),
        Transition("request_changes", frozenset({S.IN_REVIEW}), S.CHANGES_REQUESTED,
                   CLINICAL_REVIEWERS, comment_required=True, label="Request changes"),
        Transition("revise", frozenset({S.CHANGES_REQUESTED}), S.DRAFT, AUTHORS,
                   label="Back to draft"),
        Transition("approve", frozenset({S.IN_REVIEW}), S.APPROVED, CLINICAL_REVIEWERS,
                   label="Approve this exact version"),
        Transition("publish", frozenset({S.APPROVED}), S.PUBLISHED, PUBLISHERS,
                   label="Publish now"),
        Transition("schedule", frozenset({S.APPROVED}), S.APPROVED, PUBLISHERS,
                   label="Schedule publication"),
        Transition("withdraw", frozenset({S.PUBLISHED, S.DRAFT, S.IN_REVIEW,
                                          S.CHANGES_REQUESTED, S.APPROVED}),
                   S.WITHDRAWN, PUBLISHERS, comment_required=True, label="Withdraw"),
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
            f"Cannot {name.replace('_', ' ')} {article.slug}: it is "
            f"{article.get_status_display()!r}; this action needs one of: "
            f"{', '.join(sorted(transition.sources))}.",
            rule="transition-table",
        )
    if not may_take(user, transition):
        who = user.get_username() if user else "nobody"
        raise WorkflowError(
            f"{who} may not {name.replace('_', ' ')}: only members of {transition.group!r} may.",
            rule="role",
        )
    if transition.comment_required and not comment.strip():
        raise WorkflowError(
            f"{name.replace('_', ' ').capitalize()} needs a comment saying why.",
            rule="comment-required",
        )
    return transition


def _record(article, user, *, source, target, comment="", version=None, content_hash=""):
    return ReviewEvent.objects.create(
        article=article,
        actor=user,
        version=version,
        kind=ReviewEvent.Kind.TRANSITION,
        from_state=source,
        to_state=target,
        content_hash=content_hash or article_content_hash(article),
        comment=comment,
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
        raise WorkflowError(f"No such claim: {', '.join(unknown)}.", rule="claim-comment")
    event = _record(article, user, source=article.status, target=transition.target, comment=comment)
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
            f"{user.get_username()} authored or edited this draft and so cannot approve it: "
            "a second clinician must (four eyes).",
            rule="four-eyes",
        )
    content_hash = article_content_hash(article)
    if expected_hash and expected_hash != content_hash:
        raise WorkflowError(
            "The draft changed after you reviewed it; review the new content before approving.",
            rule="content-hash",
        )
    _verify_draft(article)
    errors = [p for p in article_gates(article=article, reviewer=user) if p.is_error]
    if errors:
        raise WorkflowError(
            "Approval refused while these problems stand:\n"
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
        raise _mismatch_refusal(exc, "Approval") from exc
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
        f"{action} refused: the page readers would get does not say what the reviewer "
        f"approved: {'; '.join(exc.problems)}.",
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
            "There is no approval for the current content; it must be approved again.",
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
        raise _mismatch_refusal(exc, "Publication") from exc
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
        raise WorkflowError("The go-live time needs a time zone (e.g. +00:00).", rule="schedule")
    try:
        at = at.astimezone(datetime_UTC)  # stored in UTC; 9999-12-31T23:59:59-12:00 overflows
    except OverflowError:
        raise WorkflowError("The go-live time is out of range.", rule="schedule") from None
    if at <= timezone.now():
        raise WorkflowError("The go-live time must be in the future.", rule="schedule")
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
                refusal = _mismatch_refusal(exc, "Scheduled publication")
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
        raise WorkflowError("Only a published article can be withdrawn.", rule="transition-table")
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


# A `{...}` block naming `#key`, as the span rule reads one: no `{` inside, closed within
# MAX_ATTRIBUTE_CHARS. Only candidates: the parser decides which one is the claim's.
_ATTR_BLOCK_RE = re.compile(rf"\{{[^{{}}]{{0,{MAX_ATTRIBUTE_CHARS}}}\}}")
_CERTAINTY_VALUE_RE = re.compile(
    r'(?:(?<=\s)|^)certainty=(?:"[^"]*"|(?i:very)\s+(?i:low)(?![^\s])|[^\s"]*)'
)
MAX_GRADE_CANDIDATES = 32


def _names_claim(block: str, key: str) -> bool:
    return re.search(r"#" + re.escape(key) + r'(?=[\s.#="}])', block) is not None


def _with_certainty(block: str, certainty: str) -> str:
    """`{.claim #k certainty=high}` -> `{.claim #k certainty=low}`: every certainty
    attribute removed, the new one appended."""
    inner = _CERTAINTY_VALUE_RE.sub("", block[1:-1]).rstrip()
    return f"{{{inner} certainty={certainty}}}"


def _shape(sections) -> list:
    """Everything the parser reads from a body except the bodies' text and line numbers:
    sections, claims (text, grade, citations with locators) and in-text citations."""

    def ref(r):
        return (r.key, r.locator, r.prefix)

    return [
        (
            s.heading,
            s.anchor,
            [(c.id, c.statement, c.certainty, [ref(r) for r in c.supports], c.contradicts)
             for c in s.claims],
            [ref(r) for r in s.citations],
        )
        for s in sections
    ]  # fmt: skip


def _graded_body(*, sections, index: int, key: str, certainty: str, first_line: int) -> str:
    """The new text of `sections[index]` with claim `key` graded `certainty`.

    Every `{...}` block naming `#key` is a candidate (a decoy may sit in a code span, a
    link title, a comment, another claim's text...). An edit is accepted only when
    parsing the whole edited body gives exactly the claims it gave before except this
    claim's grade, now `certainty`, and the edited text renders the claim with that
    grade: the parser, not a pattern, says which block is the claim's. Candidates are
    tried nearest the claim's line first, at most MAX_GRADE_CANDIDATES of them."""
    heads = [(s.heading, s.anchor) for s in sections]
    bodies = [s.body for s in sections]
    before = parse_body(write_body_text([(*h, b) for h, b in zip(heads, bodies, strict=True)]))
    wanted = _shape(
        [
            replace(s, claims=tuple(
                replace(c, certainty=certainty) if c.id == key else c for c in s.claims
            ))
            for s in before
        ]
    )  # fmt: skip
    claim_line = next(c.line for s in before for c in s.claims if c.id == key)
    body = bodies[index]
    candidates = [m for m in _ATTR_BLOCK_RE.finditer(body) if _names_claim(m.group(), key)]

    def distance(match) -> tuple[int, int]:
        line = first_line + body.count("\n", 0, match.start())
        return (line < claim_line, abs(line - claim_line))

    for match in sorted(candidates, key=distance)[:MAX_GRADE_CANDIDATES]:
        edited = body[: match.start()] + _with_certainty(match.group(), certainty)
        edited += body[match.end() :]
        texts = [
            (*head, edited if i == index else text)
            for i, (head, text) in enumerate(zip(heads, bodies, strict=True))
        ]
        try:
            after = parse_body(write_body_text(texts))
        except ArticleFormatError:
            continue
        if _shape(after) != wanted:
            continue
        page = page_read(render_sections(texts, {}).html)
        if [c.certainty for c in page.claims if c.id == key] == [certainty]:
            return edited
    raise WorkflowError(
        f"Claim {key!r} could not be graded: no edit of its {{...}} attribute block gives "
        "exactly that grade when the text is read back. Nothing was changed; ask the "
        "author to simplify the text around the claim.",
        rule="claim-grade",
    )


@transaction.atomic
def claim_grade(*, article: Article, user, key: str, certainty: str, comment: str = "") -> None:
    """A clinical reviewer grades one claim while the article is in review.

    Grading is part of reviewing, not authoring: it rewrites only the claim's
    `certainty=` attribute in the draft Markdown (the text stays the source of truth),
    is recorded as a review comment, and does not make the reviewer an editor. The
    block edited is the one the parser reads as the claim's (see `_graded_body`); the
    stored claims are then checked against the text (`draft_verify`).
    """
    _locked(article)
    if not user_in_group(user, CLINICAL_REVIEWERS):
        raise WorkflowError("Only a Clinical reviewer grades claims.", rule="role")
    if article.status != S.IN_REVIEW:
        raise WorkflowError(
            "Claims are graded while the article is in review.", rule="transition-table"
        )
    if certainty not in Certainty.values:
        raise WorkflowError(f"{certainty!r} is not a certainty grade.", rule="certainty")
    claim = article.claims.select_related("section").filter(key=key).first()
    if claim is None:
        raise WorkflowError(f"No claim {key!r} in {article.slug}.", rule="claim-comment")
    _verify_draft(article)  # so the rows, and the sections below, are what the text says
    sections = list(article.sections.order_by("position"))
    index = next(i for i, s in enumerate(sections) if s.pk == claim.section_id)
    parsed = parse_body(write_body_text([(s.heading, s.anchor, s.body) for s in sections]))
    previous = claim.certainty
    if previous != certainty:  # else the text already says it: nothing to rewrite
        section = sections[index]
        section.body = _graded_body(
            sections=sections,
            index=index,
            key=key,
            certainty=certainty,
            first_line=parsed[index].line + (1 if parsed[index].heading else 0),
        )
        section.save(update_fields=["body"])
        Article.objects.filter(pk=article.pk).update(lock_version=F("lock_version") + 1)
        article.lock_version += 1
    claim.certainty = certainty
    claim.save(update_fields=["certainty"])
    _verify_draft(article)
    ReviewEvent.objects.create(
        article=article,
        actor=user,
        kind=ReviewEvent.Kind.COMMENT,
        claim_key=key,
        comment=(f"Certainty {previous or 'ungraded'} -> {certainty}. {comment}").strip(),
        content_hash=article_content_hash(article),
    )


def _verify_draft(article: Article) -> None:
    """`draft_verify` as a workflow refusal (rule "draft-integrity"): the caller's
    transaction rolls back whatever it wrote."""
    try:
        draft_verify(article=article)
    except DraftIntegrityError as exc:
        raise WorkflowError(
            "The stored claims do not match the draft's text: "
            + "; ".join(exc.problems)
            + ". Nothing was changed; the author must save the draft again.",
            rule="draft-integrity",
            problems=exc.problems,
        ) from exc


@transaction.atomic
def claim_comment(*, article: Article, user, key: str, comment: str) -> ReviewEvent:
    """A review comment on one claim, kept in the audit trail."""
    if not (user_in_group(user, CLINICAL_REVIEWERS) or user_in_group(user, AUTHORS)):
        raise WorkflowError("Only editors and reviewers comment on claims.", rule="role")
    if not comment.strip():
        raise WorkflowError("The comment is empty.", rule="comment-required")
    if not article.claims.filter(key=key).exists():
        raise WorkflowError(f"No claim {key!r} in {article.slug}.", rule="claim-comment")
    event = ReviewEvent.objects.create(
        article=article,
        actor=user,
        kind=ReviewEvent.Kind.COMMENT,
        claim_key=key,
        comment=comment.strip(),
        content_hash=article_content_hash(article),
    )
    _verify_draft(article)
    return event
