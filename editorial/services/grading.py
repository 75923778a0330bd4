"""Grading and commenting on one claim during review (issue 11, item 1).

A Clinical reviewer's grade rewrites only the `certainty=` attribute of the `{...}` block
the parser reads as the claim's own; the edit is accepted only when re-parsing shows
exactly that grade changed (`_graded_body`), and the stored claims are then checked
against the text (`draft_verify`). Comments go to the append-only review trail.
"""

from __future__ import annotations

import re
from dataclasses import replace

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext

from articles.articlefile import write_body_text
from articles.models import Article, Certainty, ReviewEvent
from articles.rendering import MAX_ATTRIBUTE_CHARS, ArticleFormatError, parse_body, render_sections
from articles.roles import AUTHORS, CLINICAL_REVIEWERS
from articles.services.snapshots import article_content_hash
from articles.services.versions import page_read
from editorial.services.workflow import S, WorkflowError, _locked, _verify_draft, user_in_group

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
        gettext(
            "Claim %(key)r could not be graded: no edit of its {...} attribute block gives "
            "exactly that grade when the text is read back. Nothing was changed; ask the "
            "author to simplify the text around the claim."
        )
        % {"key": key},
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
        raise WorkflowError(gettext("Only a Clinical reviewer grades claims."), rule="role")
    if article.status != S.IN_REVIEW:
        raise WorkflowError(
            gettext("Claims are graded while the article is in review."),
            rule="transition-table",
        )
    if certainty not in Certainty.values:
        raise WorkflowError(
            gettext("%(grade)r is not a certainty grade.") % {"grade": certainty},
            rule="certainty",
        )
    claim = article.claims.select_related("section").filter(key=key).first()
    if claim is None:
        raise WorkflowError(
            gettext("No claim %(key)r in %(slug)s.") % {"key": key, "slug": article.slug},
            rule="claim-comment",
        )
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


@transaction.atomic
def claim_comment(*, article: Article, user, key: str, comment: str) -> ReviewEvent:
    """A review comment on one claim, kept in the audit trail."""
    if not (user_in_group(user, CLINICAL_REVIEWERS) or user_in_group(user, AUTHORS)):
        raise WorkflowError(gettext("Only editors and reviewers comment on claims."), rule="role")
    if not comment.strip():
        raise WorkflowError(gettext("The comment is empty."), rule="comment-required")
    if not article.claims.filter(key=key).exists():
        raise WorkflowError(
            gettext("No claim %(key)r in %(slug)s.") % {"key": key, "slug": article.slug},
            rule="claim-comment",
        )
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
