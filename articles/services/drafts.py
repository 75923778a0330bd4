"""Writing an article's draft: from an article file, or from the admin.

Rules enforced here:
- every citation key resolves (to the file's bibliography or the site library);
- citations are deduplicated by DOI, PMID and PMCID across the whole site;
- a draft save is refused when someone else saved in between (optimistic lock);
- any edit of content a reviewer approved voids that approval (back to draft);
- the live, published version is never touched by a draft edit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.db.models import F

from articles.articlefile import (
    ArticleFile,
    ArticleFileError,
    write_article_text,
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
from articles.rendering import ArticleFormatError, SectionSource, parse_body
from evidence import citations


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


# --- the canonical snapshot and its hash ---------------------------------------------


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
            seen = set()
            for ref_position, ref in enumerate(claim_source.supports):
                citation = citations_by_key[ref.key]
                if (citation.pk, "supports") in seen:
                    continue
                seen.add((citation.pk, "supports"))
                links.append(
                    ClaimCitation(
                        claim=claim,
                        citation=citation,
                        relation=ClaimCitation.Relation.SUPPORTS,
                        locator=ref.locator[:100],
                        position=ref_position,
                    )
                )
            for ref_position, key in enumerate(claim_source.contradicts, start=len(seen)):
                citation = citations_by_key[key]
                if (citation.pk, "contradicts") in seen:
                    continue
                seen.add((citation.pk, "contradicts"))
                links.append(
                    ClaimCitation(
                        claim=claim,
                        citation=citation,
                        relation=ClaimCitation.Relation.CONTRADICTS,
                        position=ref_position,
                    )
                )
    ClaimCitation.objects.bulk_create(links)
