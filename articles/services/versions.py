"""Freezing a draft into an immutable ArticleVersion and making it the live page.

What readers get is what the reviewer graded: a version is created, and published, only
when its rendered HTML says exactly what its snapshot says (`snapshot_verify`): the same
claims, in order, with the same text, grades and citations (read back from the page's
public hooks, shared/spec/article-format.md), and the snapshot's claims are those its
own Markdown gives (the content hash covers that Markdown).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from articles.articlefile import write_body_text
from articles.models import Article, ArticleVersion
from articles.plaintext import document_text
from articles.rendering import ArticleFormatError, parse_body, render_sections, sanitize_html
from articles.services.consistency import LOCATOR_MAX, claim_links
from articles.services.snapshots import draft_snapshot, snapshot_hash
from articles.signals import article_published, send_after_commit
from evidence import citations


class RenderingError(ValueError):
    pass


class RenderedMismatchError(RenderingError):
    """A version's page or snapshot would not say what the reviewer approved. `rule`
    names the check: "rendered-matches-snapshot" (the HTML against the snapshot) or
    "snapshot-matches-text" (the snapshot's claims against its own Markdown)."""

    def __init__(self, rule: str, problems: list[str]):
        self.rule = rule
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


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


# --- reading a rendered page back ------------------------------------------------------

_VOID_TAGS = frozenset({"br", "hr", "img", "wbr", "input", "meta", "link"})
_REF_HREF_RE = re.compile(r"#ref-([0-9]+)")
_REF_ID_RE = re.compile(r"ref-([0-9]+)")


@dataclass
class RenderedClaim:
    """One claim as the public page shows it (article-format.md, "Public HTML contract")."""

    id: str
    certainty: str
    statement: str = ""
    supports: list[tuple[int, str]] = field(default_factory=list)  # (reference n, locator)
    contradicts: list[int] = field(default_factory=list)
    parts: list[str] = field(default_factory=list, repr=False)


@dataclass
class RenderedPage:
    claims: list[RenderedClaim]
    references: dict[int, str]  # n -> the reference's text


class _PageReader(HTMLParser):
    """Reads claims, their grades, citation markers and the reference list from the
    page's public hooks only: `span.claim` with `id="claim-…"` and `data-certainty`,
    `a[href="#ref-n"]` markers (inside `sup.citations`, or `span.contradicted-by`),
    and `ol#references > li#ref-n`."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.claims: list[RenderedClaim] = []
        self.references: dict[int, str] = {}
        self._stack: list[str] = []  # one role per open element
        self._claim: RenderedClaim | None = None
        self._group: list[list] | None = None  # per marker: [n, text after it]
        self._reference: int | None = None
        self._reference_text: list[str] = []

    def _inside(self, role: str) -> bool:
        return role in self._stack

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        role = tag
        if tag == "span" and "claim" in classes:
            role = "claim"
            claim_id = attrs.get("id") or ""
            self._claim = RenderedClaim(
                id=claim_id.removeprefix("claim-") if claim_id.startswith("claim-") else "",
                certainty=attrs.get("data-certainty") or "",
            )
            self.claims.append(self._claim)
        elif tag == "span" and "certainty-badge" in classes:
            role = "badge"
        elif tag == "span" and "contradicted-by" in classes:
            role = "contradicted"
        elif tag == "sup" and "citations" in classes:
            role = "citations"
            self._group = []
            if self._claim is not None and self._inside("claim"):
                self._claim.parts.append("\x00")
        elif tag == "a" and (match := _REF_HREF_RE.fullmatch(attrs.get("href") or "")):
            role = "marker"
            number = int(match[1])
            if self._inside("contradicted") and self._inside("claim"):
                self._claim.contradicts.append(number)
            elif self._group is not None and self._inside("claim"):
                self._group.append([number, ""])
        elif tag == "li" and self._inside("references"):
            if match := _REF_ID_RE.fullmatch(attrs.get("id") or ""):
                role, self._reference, self._reference_text = "reference", int(match[1]), []
        elif tag == "ol" and attrs.get("id") == "references":
            role = "references"
        if tag in ("br", "img") and self._claim is not None and self._inside("claim"):
            self._claim.parts.append(" ")
        if tag not in _VOID_TAGS:
            self._stack.append(role)

    def handle_endtag(self, tag):
        if tag in _VOID_TAGS or not self._stack:
            return
        role = self._stack.pop()
        if role == "claim":
            self._claim.statement = claim_statement(self._claim.parts)
            self._claim = None
        elif role == "citations":
            if self._claim is not None:
                self._claim.supports.extend(
                    (number, _locator(after, last=index == len(self._group) - 1))
                    for index, (number, after) in enumerate(self._group)
                )
            self._group = None
        elif role == "reference":
            self.references[self._reference] = " ".join("".join(self._reference_text).split())
            self._reference = None

    def handle_data(self, data):
        if self._reference is not None:
            self._reference_text.append(data)
        if self._claim is None or not self._inside("claim"):
            return
        if self._inside("badge") or self._inside("contradicted"):
            return
        if self._inside("citations"):
            if self._group and not self._inside("marker"):
                self._group[-1][1] += data
            return
        self._claim.parts.append(data)


def _locator(after: str, *, last: bool) -> str:
    """The locator from the text after a marker: `, p. 3; ` (next part), `, p. 3]`."""
    text = after.split(";")[0]
    if last:
        text = text.removesuffix("]") if text.endswith("]") else text
    return text.strip().removeprefix(",").strip()


def claim_statement(parts: list[str]) -> str:
    """A claim's plain text as the parser states it (rendering's `_statement`):
    whitespace collapsed, citations (\\x00) removed with the space before punctuation."""
    text = re.sub(r" ?\x00+ ?(?=[.,;:!?)]|$)", "", " ".join("".join(parts).split()))
    return " ".join(text.replace("\x00", " ").split())


def page_read(html: str) -> RenderedPage:
    """The claims and references a rendered page shows, from its public hooks."""
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    return RenderedPage(claims=reader.claims, references=reader.references)


def _reference_text(item: dict) -> str:
    entry = sanitize_html(citations.format_reference_html(item))
    reader = _PageReader()
    reader.feed(f'<ol id="references"><li id="ref-1">{entry}</li></ol>')
    reader.close()
    return reader.references[1]


def _first_per_work(links: list[tuple]) -> list[tuple]:
    """One (work, locator) per work, as `claim_links` keeps them: the place of its first
    mention, the first locator given for it."""
    kept: dict = {}
    for work, *locator in links:
        if not any(kept.get(work, ())):
            kept[work] = tuple(locator)
    return [(work, *locator) for work, locator in kept.items()]


def _snapshot_claim_rows(snapshot: dict, work) -> list[tuple]:
    return [
        (
            claim["id"],
            claim["certainty"] or "unrated",
            claim["statement"],
            _first_per_work([(work(s["key"]), s["locator"]) for s in claim["supports"]]),
            _first_per_work([(work(key),) for key in claim["contradicts"]]),
        )
        for claim in snapshot["claims"]
    ]


def _compare(rule: str, expected: list[tuple], got: list[tuple], what: str) -> None:
    problems = []
    if [row[0] for row in expected] != [row[0] for row in got]:
        problems.append(
            f"{what} has claims {[row[0] for row in got]}, the snapshot "
            f"{[row[0] for row in expected]}"
        )
    else:
        names = ("id", "certainty", "text", "supporting citations", "contradicting citations")
        problems += [
            f"claim {want[0]!r}: {what} gives its {name} as {b!r}, the snapshot {a!r}"
            for want, have in zip(expected, got, strict=True)
            for name, a, b in zip(names, want, have, strict=True)
            if a != b
        ]
    if problems:
        raise RenderedMismatchError(rule, problems)


def snapshot_verify(snapshot: dict, html: str) -> None:
    """Raise RenderedMismatchError unless the snapshot says what its Markdown says and the
    rendered page says what the snapshot says: claim ids in order, text, grades, and
    supporting (with locators) and contradicting citations, each citation compared by
    the reference readers see for it."""
    bibliography = snapshot["bibliography"]
    identity = {
        key: json.dumps({k: v for k, v in item.items() if k != "id"}, sort_keys=True)
        for key, item in bibliography.items()
    }
    expected = _snapshot_claim_rows(snapshot, lambda key: identity.get(key, f"?{key}"))
    sections = [(s["heading"], s["anchor"], s["body"]) for s in snapshot["sections"]]
    try:
        parsed = parse_body(write_body_text(sections))
    except ArticleFormatError as exc:
        problem = f"the text does not parse: {exc}"
        raise RenderedMismatchError("snapshot-matches-text", [problem]) from exc
    from_text = []
    for section in parsed:
        for claim in section.claims:
            keys = {ref.key for ref in claim.supports} | set(claim.contradicts)
            works = {key: identity.get(key, f"?{key}") for key in keys}
            links = claim_links(claim, works)
            from_text.append(
                (
                    claim.id,
                    claim.certainty or "unrated",
                    claim.statement,
                    [(w, loc) for w, rel, loc in links if rel == "supports"],
                    [(w,) for w, rel, _ in links if rel == "contradicts"],
                )
            )
    _compare("snapshot-matches-text", expected, from_text, "its Markdown")

    page = page_read(html)
    texts = {key: _reference_text(item) for key, item in bibliography.items()}
    expected = _snapshot_claim_rows(snapshot, lambda key: texts.get(key, f"?{key}"))

    def work(number: int) -> str:
        return page.references.get(number, f"(no reference {number} in the list)")

    shown = [
        (
            claim.id,
            claim.certainty,
            claim.statement,
            _first_per_work([(work(n), locator[:LOCATOR_MAX]) for n, locator in claim.supports]),
            _first_per_work([(work(n),) for n in claim.contradicts]),
        )
        for claim in page.claims
    ]
    _compare("rendered-matches-snapshot", expected, shown, "the rendered page")


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
    """Freeze the current draft as the next numbered version, approved by `reviewer`.

    Raises RenderedMismatchError when the rendered page would not say what the snapshot
    says (`snapshot_verify`)."""
    approved_at = approved_at or timezone.now()
    snapshot = draft_snapshot(article)
    last_reviewed = timezone.localdate(approved_at)
    number = (article.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    html = snapshot_render(snapshot)
    snapshot_verify(snapshot, html)
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
    invalidated (publish, re-review and scheduled publishing all come through here).
    Refused (RenderedMismatchError, nothing written) unless the stored page still says
    what the approved snapshot says."""
    snapshot_verify(version.snapshot, version.html)
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
