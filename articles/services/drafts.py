"""Writing an article's draft: from an article file, or from the admin.

Rules enforced here:
- every citation key resolves (to the file's bibliography or the site library);
- citations are deduplicated by DOI, PMID and PMCID across the whole site;
- a draft save is refused when someone else saved in between (optimistic lock);
- any edit of content a reviewer approved voids that approval (back to draft);
- the live, published version is never touched by a draft edit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.db.models import F

from articles.articlefile import (
    ArticleFile,
    ArticleFileError,
    write_body_text,
)
from articles.models import (
    Article,
    ArticleCitation,
    Citation,
    Claim,
    ClaimCitation,
    ReviewEvent,
    Section,
    Topic,
)
from articles.rendering import ArticleFormatError, ClaimSource, SectionSource, parse_body
from articles.services.snapshots import article_content_hash
from evidence import citations

SUPPORTS, CONTRADICTS = ClaimCitation.Relation.SUPPORTS, ClaimCitation.Relation.CONTRADICTS
LOCATOR_MAX = ClaimCitation._meta.get_field("locator").max_length


class DraftConflictError(Exception):
    """Someone else saved the draft after this editor loaded it."""

    def __init__(self, article: Article, *, expected: int, current: int, changes: list[str]):
        self.article = article
        self.expected = expected
        self.current = current
        self.changes = changes
        super().__init__(
            f"{article.slug} was changed by someone else since you opened it "
            f"(you had revision {expected}, it is now at {current}); nothing was saved."
        )


@dataclass
class ImportResult:
    article: Article
    created: bool
    changed: bool
    content_hash: str
    warnings: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.created:
            return "created"
        return "updated" if self.changed else "unchanged"


# --- citations -------------------------------------------------------------------------


def citation_upsert(*, item: dict) -> tuple[Citation, bool]:
    """Find the library citation for a CSL item (by DOI, PMID, PMCID, then URL) or create it.

    A match keeps the library's curated metadata: importing never silently rewrites a
    citation that other articles rely on.
    """
    doi, pmid, pmcid = citations.item_identifiers(item)
    matches = {}
    for field_name, value in (("doi", doi), ("pmid", pmid), ("pmcid", pmcid)):
        if value:
            found = Citation.objects.filter(**{field_name: value}).first()
            if found:
                matches[field_name] = found
    distinct = {c.pk: c for c in matches.values()}
    if len(distinct) > 1:
        described = ", ".join(
            f"{name.upper()} matches citation #{c.pk}" for name, c in matches.items()
        )
        raise citations.BibliographyError(
            f"reference {item['id']!r} points at two different library citations ({described})"
        )
    if distinct:
        return next(iter(distinct.values())), False
    if not (doi or pmid or pmcid):
        # No identifier: the same URL, or the same key and title, is the same work.
        url = item.get("URL") or ""
        title = str(item.get("title") or item.get("container-title") or item["id"])[:2000]
        found = (
            Citation.objects.filter(url=url, doi="", pmid="", pmcid="").first() if url else None
        ) or Citation.objects.filter(key=item["id"], title=title, doi="", pmid="", pmcid="").first()
        if found:
            return found, False
    citation = Citation(key=item["id"])
    citation_apply_csl(citation=citation, item=item)
    citation.full_clean(exclude=["csl"])
    citation.save()
    return citation, True


def citation_apply_csl(*, citation: Citation, item: dict) -> None:
    doi, pmid, pmcid = citations.item_identifiers(item)
    stored = {k: v for k, v in item.items() if k != "id"}
    citation.csl = stored
    citation.title = str(item.get("title") or item.get("container-title") or item["id"])[:2000]
    citation.year = _issued_year(item)
    citation.doi, citation.pmid, citation.pmcid = doi, pmid, pmcid
    url = item.get("URL") or ""
    citation.url = url if url.startswith(("http://", "https://")) else ""
    citation.study_design = citations.guess_study_design(item)


def _issued_year(item: dict) -> int | None:
    try:
        year = int(item["issued"]["date-parts"][0][0])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return year if 1000 <= year <= 9999 else None


# --- writing the draft -----------------------------------------------------------------


def _resolve_citations(*, source: ArticleFile, article: Article | None) -> dict[str, Citation]:
    """Map every cited key to a library citation, creating new ones from the file."""
    existing_keys = (
        {link.key: link.citation for link in article.bibliography.select_related("citation")}
        if article
        else {}
    )
    resolved: dict[str, Citation] = {}
    for key, line in source.cited_keys():
        item = source.bibliography.get(key)
        if item is not None:
            try:
                resolved[key], _ = citation_upsert(item=item)
            except (citations.BibliographyError, citations.IdentifierError) as exc:
                raise ArticleFileError(
                    f"reference {key!r}: {getattr(exc, 'message', None) or exc}",
                    path=source.path,
                    line=line,
                ) from exc
        elif key in existing_keys:
            resolved[key] = existing_keys[key]
        else:
            library = Citation.objects.filter(key=key).order_by("pk").first()
            if library is None:
                raise ArticleFileError(
                    f"unknown citation key {key!r}: it is in neither the bibliography "
                    "nor the citation library",
                    path=source.path,
                    line=line,
                )
            resolved[key] = library
    return resolved


@transaction.atomic
def article_import(
    *,
    source: ArticleFile,
    user=None,
    expected_lock_version: int | None = None,
    event_kind: str = ReviewEvent.Kind.IMPORT,
    event_comment: str | None = None,
) -> ImportResult:
    """Create or update an article's draft from a parsed article file, atomically.

    Any error raises and rolls back everything this import wrote. The admin editor
    comes through here too (event_kind=EDIT), so one set of rules guards every write.
    """
    article = Article.objects.select_for_update().filter(slug=source.slug).first()
    created = article is None
    before = None if created else article_content_hash(article)
    resolved = _resolve_citations(source=source, article=article)
    if created:
        article = Article.objects.create(
            slug=source.slug, title=source.title, owner=user, last_edited_by=user
        )
    draft_write(
        article=article,
        user=user,
        source=source,
        citations_by_key=resolved,
        expected_lock_version=expected_lock_version,
    )
    after = article_content_hash(article)
    changed = before != after
    if created or changed:
        source_state = article.status
        draft_reopen(article=article)
        ReviewEvent.objects.create(
            article=article,
            actor=user,
            kind=event_kind,
            from_state="" if created else source_state,
            to_state=article.status,
            content_hash=after,
            comment=event_comment if event_comment is not None else f"Imported from {source.path}",
        )
    draft_verify(article=article)
    return ImportResult(article=article, created=created, changed=changed, content_hash=after)


def article_save_text(
    *,
    slug: str,
    title: str,
    summary: str,
    topics: list[str],
    audience: str,
    review_interval_months: int,
    body: str,
    user,
    expected_lock_version: int | None,
) -> ImportResult:
    """Save the admin editor's form: the same parser, checks and lock as an import.

    Citation keys resolve to the article's bibliography or the citation library.
    Raises ArticleFileError (with the body line) or DraftConflictError; writes nothing then.
    """
    try:
        sections = parse_body(body)
    except ArticleFormatError as exc:
        raise ArticleFileError(exc.message, path="article text", line=exc.line) from exc
    source = ArticleFile(
        title=" ".join(title.split()),
        slug=slug,
        summary=" ".join(summary.split()),
        topics=topics,
        audience=audience,
        review_interval_months=review_interval_months,
        sections=sections,
        path="article text",
    )
    return article_import(
        source=source,
        user=user,
        expected_lock_version=expected_lock_version,
        event_kind=ReviewEvent.Kind.EDIT,
        event_comment="Edited in the admin",
    )


def draft_body_text(article: Article) -> str:
    return write_body_text([(s.heading, s.anchor, s.body) for s in article.sections.all()])


# Edits in these states void the review or approval under way: the content a reviewer
# looked at (and the hash an approval names) is no longer the content of the draft.
REOPENED_BY_EDIT = {
    Article.Status.IN_REVIEW,
    Article.Status.CHANGES_REQUESTED,
    Article.Status.APPROVED,
    Article.Status.PUBLISHED,
}


def draft_reopen(*, article: Article) -> None:
    """After a content change: any review or approval is void, the draft is a draft again.

    A published article keeps its live version; only the working draft moves.
    """
    if article.status in REOPENED_BY_EDIT:
        article.status = Article.Status.DRAFT
        article.save(update_fields=["status", "updated_at"])


def draft_write(
    *,
    article: Article,
    user,
    source: ArticleFile,
    citations_by_key: dict[str, Citation],
    expected_lock_version: int | None = None,
) -> None:
    """Replace the draft with `source`. Must run inside a transaction."""
    if article.status == Article.Status.WITHDRAWN:
        raise ArticleFileError(
            f"{article.slug} is withdrawn; its versions are archived and cannot be edited",
            path=source.path,
        )
    _claim_lock(article=article, user=user, expected=expected_lock_version, source=source)
    article.title = source.title
    article.summary = source.summary
    article.audience = source.audience
    article.review_interval_months = source.review_interval_months
    article.last_edited_by = user
    article.full_clean(exclude=["live_version", "owner", "last_edited_by", "topics"])
    article.save(
        update_fields=[
            "title",
            "summary",
            "audience",
            "review_interval_months",
            "last_edited_by",
            "updated_at",
        ]
    )
    topics, created = _existing_topics(source, user=user)
    article.topics.set(topics)
    if created:
        ReviewEvent.objects.create(
            article=article,
            actor=user,
            kind=ReviewEvent.Kind.COMMENT,
            comment="Topic(s) created by import: "
            + ", ".join(f"{t.slug} ({t.name!r})" for t in created),
        )
    _write_sections(article=article, sections=source.sections, citations_by_key=citations_by_key)


class UnknownTopicError(ArticleFileError):
    """A draft names a topic that does not exist and its author may not create topics."""


def topic_creator(user) -> bool:
    """Who may create a topic: a topic's name is shown to readers beside the article."""
    return user is None or user.has_perm("articles.add_topic")


def _existing_topics(source: ArticleFile, *, user) -> tuple[list[Topic], list[Topic]]:
    """The draft's topics, and those created now.

    An author's draft may only use existing topics. An import run by the operator
    (`user` None: the command without --user) or by a Publisher/superuser creates an unknown
    slug with a name derived from it; the caller records that on the article's trail.
    """
    found = {topic.slug: topic for topic in Topic.objects.filter(slug__in=source.topics)}
    missing = [slug for slug in dict.fromkeys(source.topics) if slug not in found]
    if missing and not topic_creator(user):
        raise UnknownTopicError(
            f"unknown topic {missing[0]!r}: a draft may only use existing topics; a "
            "Publisher creates new topics in the admin (Topics)",
            path=source.path,
            line=_topic_line(source.path, missing[0]),
        )
    created = []
    for slug in missing:
        topic, was_created = Topic.objects.get_or_create(
            slug=slug, defaults={"name": slug.replace("-", " ").title()}
        )
        found[slug] = topic
        if was_created:
            created.append(topic)
    return [found[slug] for slug in dict.fromkeys(source.topics)], created


def _topic_line(path: str, slug: str) -> int | None:
    """The line of the front matter naming `slug`, when the source is a file on disk."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return None
    for number, line in enumerate(lines, start=1):
        if re.search(rf"(?<![\w-]){re.escape(slug)}(?![\w-])", line):
            return number
    return None


def _claim_lock(
    *, article: Article, user, expected: int | None, source: ArticleFile | None
) -> None:
    """Check-and-bump the lock version in one UPDATE, so two saves can never both win."""
    if expected is None:
        expected = article.lock_version
    updated = Article.objects.filter(pk=article.pk, lock_version=expected).update(
        lock_version=F("lock_version") + 1
    )
    if not updated:
        current = Article.objects.get(pk=article.pk)
        raise DraftConflictError(
            article,
            expected=expected,
            current=current.lock_version,
            changes=describe_changes(current, source) if source else [],
        )
    article.lock_version = expected + 1


def describe_changes(article: Article, source: ArticleFile) -> list[str]:
    """What the stored draft has that the rejected edit would have overwritten."""
    changes = []
    if article.title != source.title:
        changes.append(f"Title is now {article.title!r}.")
    if article.summary != source.summary:
        changes.append("The summary was changed.")
    stored = {s.anchor: s for s in article.sections.all()}
    incoming = {s.anchor: s for s in source.sections}
    for anchor, section in stored.items():
        if anchor not in incoming:
            changes.append(f"Section {section.heading or 'lead'!r} was added.")
        elif incoming[anchor].body.strip() != section.body.strip():
            changes.append(f"Section {section.heading or 'lead'!r} was edited.")
    changes.extend(
        f"Section {incoming[anchor].heading or 'lead'!r} was removed."
        for anchor in incoming
        if anchor not in stored
    )
    return changes


def claim_links[T](
    claim: ClaimSource, citations_by_key: Mapping[str, T]
) -> list[tuple[T, str, str]]:
    """The (citation, relation, locator) links a claim's Markdown gives, in the order the
    claim rows store them: supporting citations as first cited, then contradicting ones.
    One link per citation and relation: a work cited twice (or under two keys) keeps the
    place of its first mention and the first locator given for it. The one derivation
    `_write_sections`, the merge of duplicate citations and `draft_verify` share."""
    links: dict[tuple[T, str], str] = {}
    supports = [(ref.key, SUPPORTS, ref.locator[:LOCATOR_MAX]) for ref in claim.supports]
    contradicts = [(key, CONTRADICTS, "") for key in claim.contradicts]
    for key, relation, locator in supports + contradicts:
        link = (citations_by_key[key], relation)
        links[link] = links.get(link) or locator
    return [(citation, relation, locator) for (citation, relation), locator in links.items()]


def _write_sections(
    *, article: Article, sections: list[SectionSource], citations_by_key: dict[str, Citation]
) -> None:
    article.claims.all().delete()
    article.sections.all().delete()
    ArticleCitation.objects.filter(article=article).exclude(key__in=citations_by_key).delete()
    for key, citation in citations_by_key.items():
        ArticleCitation.objects.update_or_create(
            article=article, key=key, defaults={"citation": citation}
        )
    claim_position = 0
    links = []
    for position, source in enumerate(sections):
        section = Section.objects.create(
            article=article,
            position=position,
            heading=source.heading,
            anchor=source.anchor,
            body=source.body,
        )
        for claim_source in source.claims:
            claim = Claim.objects.create(
                article=article,
                section=section,
                key=claim_source.id,
                statement=claim_source.statement,
                certainty=claim_source.certainty,
                position=claim_position,
            )
            claim_position += 1
            links.extend(
                ClaimCitation(
                    claim=claim,
                    citation=citation,
                    relation=relation,
                    locator=locator,
                    position=link_position,
                )
                for link_position, (citation, relation, locator) in enumerate(
                    claim_links(claim_source, citations_by_key)
                )
            )
    ClaimCitation.objects.bulk_create(links)


def draft_claims_relink(*, article: Article) -> None:
    """Rebuild every claim's citation links from the draft's Markdown and bibliography
    (after the library changed under it, e.g. a merge of duplicate citations)."""
    citation_ids = dict(article.bibliography.values_list("key", "citation_id"))
    claims = {claim.key: claim for claim in article.claims.all()}
    ClaimCitation.objects.filter(claim__article=article).delete()
    links = []
    for section in parse_body(draft_body_text(article)):
        for source in section.claims:
            if source.id not in claims or not _keys_known(source, citation_ids):
                continue  # draft_verify reports it
            links.extend(
                ClaimCitation(
                    claim=claims[source.id],
                    citation_id=citation_id,
                    relation=relation,
                    locator=locator,
                    position=link_position,
                )
                for link_position, (citation_id, relation, locator) in enumerate(
                    claim_links(source, citation_ids)
                )
            )
    ClaimCitation.objects.bulk_create(links)


def _keys_known(claim: ClaimSource, citation_ids: Mapping[str, int]) -> bool:
    return all(
        key in citation_ids for key in (*(r.key for r in claim.supports), *claim.contradicts)
    )


# --- the invariant: the stored claims are what the text says ---------------------------


class DraftIntegrityError(ArticleFileError):
    """The stored sections and claim rows differ from what parsing the draft's Markdown
    gives. Raised inside the write that caused it, so that write is rolled back."""

    def __init__(self, article: Article, problems: list[str]):
        self.article = article
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"the stored claims of {article.slug} would not match its text: "
            f"{problems[0]}{more}; nothing was saved",
            path="article text",
        )


def draft_problems(article: Article) -> list[str]:
    """How the stored draft differs from its own Markdown; empty when it does not.

    Parsing the sections' text (the whole body, as an export writes it) must give the
    same sections and exactly the stored Claim rows: keys, order, section, statement,
    certainty, and the supporting and contradicting citations with their locators and
    order. Four queries, one parse."""
    sections = list(article.sections.order_by("position"))
    try:
        parsed = parse_body(write_body_text([(s.heading, s.anchor, s.body) for s in sections]))
    except ArticleFormatError as exc:
        return [f"the text no longer parses ({exc})"]
    problems = []
    stored_sections = [(s.heading, s.anchor, s.body) for s in sections]
    parsed_sections = [(s.heading, s.anchor, s.body) for s in parsed]
    if stored_sections != parsed_sections:
        problems.append("the sections read back from the text differ from the stored ones")
    citation_ids = dict(article.bibliography.values_list("key", "citation_id"))
    expected = []
    for section in parsed:
        for claim in section.claims:
            if not _keys_known(claim, citation_ids):
                problems.append(f"claim {claim.id!r} cites a key missing from the bibliography")
                continue
            expected.append(
                (section.anchor, claim.id, claim.statement, claim.certainty,
                 tuple(claim_links(claim, citation_ids)))
            )  # fmt: skip
    stored = [
        (
            claim.section.anchor,
            claim.key,
            claim.statement,
            claim.certainty,
            tuple(
                (link.citation_id, link.relation, link.locator)
                for link in sorted(
                    claim.claim_citations.all(),
                    key=lambda link: (link.relation != SUPPORTS, link.position, link.pk),
                )
            ),
        )
        for claim in article.claims.order_by("position")
        .select_related("section")
        .prefetch_related("claim_citations")
    ]
    if expected != stored:
        problems.extend(_claim_differences(expected, stored))
    return problems


def _claim_differences(expected: list[tuple], stored: list[tuple]) -> list[str]:
    fields = ("section", "key", "statement", "certainty", "citations")
    if [row[1] for row in expected] != [row[1] for row in stored]:
        return [
            f"the text has claims {[row[1] for row in expected]} but the rows are "
            f"{[row[1] for row in stored]}"
        ]
    return [
        f"claim {want[1]!r}: its {name} in the text is {a!r}, stored {b!r}"
        for want, got in zip(expected, stored, strict=True)
        for name, a, b in zip(fields, want, got, strict=True)
        if a != b
    ]


def draft_verify(*, article: Article) -> None:
    """Raise DraftIntegrityError unless the stored claims are exactly what the draft's
    text says. Every write path that touches a draft calls this last, inside its
    transaction, so a write that breaks the invariant is rolled back whole."""
    if problems := draft_problems(article):
        raise DraftIntegrityError(article, problems)
