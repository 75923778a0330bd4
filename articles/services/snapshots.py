"""An article's draft as plain data (`draft_snapshot`): what a version freezes, what
the reviewer approves and what its content hash covers (`snapshot_hash`: SHA-256 over
the exported article file and its bibliography, so equal hashes mean equal content,
whichever database or import produced it)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import batched

from django.db import connections, router

from articles.articlefile import write_article_text
from articles.models import (
    Article,
    ArticleCitation,
    Citation,
    Claim,
    ClaimCitation,
    ReviewEvent,
    Section,
)
from evidence import citations


def draft_snapshot(article: Article) -> dict:
    """The whole draft as plain data: what a version freezes and what its hash covers.
    Five queries (`draft_snapshots` of one article)."""
    return draft_snapshots([article])[article.pk]


@dataclass(frozen=True)
class CitedWork:
    """What a snapshot shows of a library citation."""

    csl: dict
    study_design: str
    retraction_status: str


@dataclass(frozen=True)
class BibliographyLink:
    """One key of an article's bibliography and the library citation it names."""

    key: str
    citation_id: int
    citation: CitedWork


@dataclass
class DraftRows:
    """One article's stored draft rows, as `draft_rows` read them: what its snapshot is
    built from, and what `draft_verify` checks against the draft's text. Each list is
    in its stored order."""

    # (pk, heading, anchor, body)
    sections: list[tuple] = field(default_factory=list)
    # (pk, article_id, section_id, key, statement, certainty)
    claims: list[tuple] = field(default_factory=list)
    # claim pk -> [(citation_id, relation, locator, position, pk)]
    links: dict[int, list[tuple]] = field(default_factory=dict)
    bibliography: list[BibliographyLink] = field(default_factory=list)  # by key
    # (slug, name), by slug
    topics: list[tuple[str, str]] = field(default_factory=list)


def _draft_querysets(ids: list[int]) -> list:
    """The five reads of `draft_rows`: sections, claim citation links, claims,
    bibliographies with their citations' shown fields, topics."""
    return [
        Section.objects.filter(article_id__in=ids)
        .order_by("article_id", "position")
        .values_list("pk", "article_id", "heading", "anchor", "body"),
        ClaimCitation.objects.filter(claim__article_id__in=ids)
        .order_by("claim_id", "position")
        .values_list("claim_id", "citation_id", "relation", "locator", "position", "pk"),
        Claim.objects.filter(article_id__in=ids)
        .order_by("article_id", "position")
        .values_list("pk", "article_id", "section_id", "key", "statement", "certainty"),
        ArticleCitation.objects.filter(article_id__in=ids)
        .order_by("article_id", "key")
        .values_list(
            "article_id",
            "key",
            "citation_id",
            "citation__csl",
            "citation__study_design",
            "citation__retraction_status",
        ),
        Article.topics.through.objects.filter(article_id__in=ids)
        .order_by("topic__slug")
        .values_list("article_id", "topic__slug", "topic__name"),
    ]


_compiled: dict[tuple[str, int], list[str]] = {}


def _draft_sql(connection, count: int) -> list[str]:
    """The SQL of `_draft_querysets` for `count` article ids, built by the ORM once per
    count and database vendor: building the five queries cost more Python time than
    running them on a one-article import. Each query's parameters are exactly the ids."""
    key = (connection.vendor, count)  # the SQL names tables, no database: one per vendor
    if key not in _compiled:
        sample = list(range(1, count + 1))
        statements = []
        for queryset in _draft_querysets(sample):
            sql, params = queryset.query.get_compiler(connection=connection).as_sql()
            if list(params) != sample:  # a Django that binds them otherwise: no cache
                return []
            statements.append(sql)
        _compiled[key] = statements
    return _compiled[key]


def draft_rows(articles: Sequence[Article]) -> dict[int, DraftRows]:
    """The draft rows of many articles, by article pk, in five queries (sections, claim
    citation links, claims, bibliographies with their citations, topics) for any number
    of articles."""
    ids = list(dict.fromkeys(article.pk for article in articles))
    rows = {pk: DraftRows() for pk in ids}
    if not ids:
        return rows
    # Where the ORM would read them (the primary, or the replica for a public read).
    connection = connections[router.db_for_read(Section)]
    if statements := _draft_sql(connection, len(ids)):
        with connection.cursor() as cursor:
            results = []
            for sql in statements:
                cursor.execute(sql, ids)
                results.append(cursor.fetchall())
        csl = Citation._meta.get_field("csl")
        results[3] = [
            (article_id, key, citation_id, csl.from_db_value(item, None, connection), *rest)
            for article_id, key, citation_id, item, *rest in results[3]
        ]
    else:
        results = [list(queryset) for queryset in _draft_querysets(ids)]
    sections, link_rows, claims, bibliography, topics = results
    for pk, article_id, heading, anchor, body in sections:
        rows[article_id].sections.append((pk, heading, anchor, body))
    links: dict[int, list[tuple]] = defaultdict(list)
    for claim_id, *link in link_rows:
        links[claim_id].append(tuple(link))
    for row in claims:
        rows[row[1]].claims.append(tuple(row))
        rows[row[1]].links[row[0]] = links[row[0]]
    for article_id, key, citation_id, item, design, retraction in bibliography:
        work = CitedWork(item, design, retraction)
        rows[article_id].bibliography.append(BibliographyLink(key, citation_id, work))
    for article_id, slug, name in topics:
        rows[article_id].topics.append((slug, name))
    return rows


def draft_snapshots(articles: Sequence[Article]) -> dict[int, dict]:
    """`draft_snapshot` of many articles at once, by article pk: the same five queries
    (`draft_rows`) for any number of articles, so a bulk export costs five queries per
    batch, not per article."""
    rows = draft_rows(articles)
    return {article.pk: snapshot_from_rows(article, rows[article.pk]) for article in articles}


def snapshot_from_rows(article: Article, rows: DraftRows) -> dict:
    """`draft_snapshot(article)` from its rows already read (`draft_rows`)."""
    anchors = {pk: anchor for pk, _, anchor, _ in rows.sections}
    return _snapshot(
        article,
        [{"heading": h, "anchor": a, "body": b} for _, h, a, b in rows.sections],
        anchors,
        rows.claims,
        rows.links,
        rows.bibliography,
        rows.topics,
    )


def _snapshot(article, sections, anchors, claims, links, bibliography_links, topics) -> dict:
    keys_by_citation = {link.citation_id: link.key for link in bibliography_links}
    return {
        "slug": article.slug,
        "title": article.title,
        "summary": article.summary,
        "topics": sorted(slug for slug, _ in topics),
        # The names readers will see, as the reviewer approved them (not in the file format
        # or the content hash: see docs/security.md, "Evidence facts and topics").
        "topic_names": dict(topics),
        "audience": article.audience,
        "review_interval_months": article.review_interval_months,
        "sections": sections,
        "claims": [
            {
                "id": key,
                "section": anchors[section_id],
                "statement": statement,
                "certainty": certainty,
                "supports": [
                    {"key": keys_by_citation[citation_id], "locator": locator}
                    for citation_id, relation, locator, *_ in links[pk]
                    if relation == ClaimCitation.Relation.SUPPORTS
                ],
                "contradicts": [
                    keys_by_citation[citation_id]
                    for citation_id, relation, *_ in links[pk]
                    if relation == ClaimCitation.Relation.CONTRADICTS
                ],
            }
            for pk, _, section_id, key, statement, certainty in claims
        ],
        "bibliography": {
            link.key: _csl_for_key(link.citation, link.key) for link in bibliography_links
        },
        "citation_meta": {
            link.key: {
                "study_design": link.citation.study_design,
                "retraction_status": link.citation.retraction_status,
            }
            for link in bibliography_links
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


def snapshot_files(snapshot: dict) -> tuple[str, str]:
    """The exported article file and its bibliography, as text: each written once per
    export, and hashed from the same strings."""
    return snapshot_article_text(snapshot), snapshot_bibliography_text(snapshot)


def snapshot_hash(snapshot: dict) -> str:
    """SHA-256 over the exported article file and its bibliography: equal hashes mean
    equal content, whichever database or import produced it."""
    return files_hash(*snapshot_files(snapshot))


def files_hash(article_text: str, bibliography_text: str) -> str:
    """`snapshot_hash` of the texts `snapshot_files` gave."""
    digest = hashlib.sha256()
    digest.update(article_text.encode())
    digest.update(b"\0")
    digest.update(bibliography_text.encode())
    return digest.hexdigest()


def article_content_hash(article: Article) -> str:
    return snapshot_hash(draft_snapshot(article))


def draft_hashes(articles: Iterable[Article], batch: int = 200) -> Iterator[tuple[Article, str]]:
    """(article, `article_content_hash(article)`) for many articles, their drafts read
    `batch` at a time (five queries a batch)."""
    for chunk in batched(articles, batch):
        snapshots = draft_snapshots(chunk)
        for article in chunk:
            yield article, snapshot_hash(snapshots[article.pk])


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
