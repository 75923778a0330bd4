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
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from articles.articlefile import (
    ArticleFile,
    ArticleFileError,
    refuse_reordering_controls,
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
from articles.roles import CLINICAL_REVIEWERS
from articles.services.citations import citation_upsert, citations_by_identifier
from articles.services.consistency import claim_keys_known, claim_links, draft_verify
from articles.services.snapshots import (
    article_content_hash,
    draft_rows,
    snapshot_from_rows,
    snapshot_hash,
)
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


# --- writing the draft -----------------------------------------------------------------


def _resolve_citations(*, source: ArticleFile, article: Article | None) -> dict[str, Citation]:
    """Map every cited key to a library citation, creating new ones from the file."""
    existing_keys = (
        {link.key: link.citation for link in article.bibliography.select_related("citation")}
        if article
        else {}
    )
    resolved: dict[str, Citation] = {}
    cited = list(source.cited_keys())
    library = citations_by_identifier(
        [source.bibliography[key] for key, _ in cited if key in source.bibliography]
    )
    for key, line in cited:
        item = source.bibliography.get(key)
        if item is not None:
            try:
                resolved[key], _ = citation_upsert(item=item, library=library)
            except (citations.BibliographyError, citations.IdentifierError) as exc:
                raise ArticleFileError(
                    f"reference {key!r}: {getattr(exc, 'message', None) or exc}",
                    path=source.path,
                    line=line,
                ) from exc
            except ValidationError as exc:  # a field the library's columns refuse
                problems = "; ".join(
                    f"{name}: {' '.join(errors)}" for name, errors in exc.message_dict.items()
                )
                raise ArticleFileError(
                    f"reference {key!r}: {problems}",
                    path=source.path,
                    line=line,
                ) from exc
        elif key in existing_keys:
            resolved[key] = existing_keys[key]
        else:
            known = Citation.objects.filter(key=key).order_by("pk").first()
            if known is None:
                raise ArticleFileError(
                    f"unknown citation key {key!r}: it is in neither the bibliography "
                    "nor the citation library",
                    path=source.path,
                    line=line,
                )
            resolved[key] = known
    return resolved


@transaction.atomic
def article_import(
    *,
    source: ArticleFile,
    user=None,
    expected_lock_version: int | None = None,
    event_kind: str = ReviewEvent.Kind.IMPORT,
    event_comment: str | None = None,
    create_only: bool = False,
    may_grade: bool = True,
) -> ImportResult:
    """Create or update an article's draft from a parsed article file, atomically.

    Any error raises and rolls back everything this import wrote. The admin editor
    comes through here too (event_kind=EDIT), so one set of rules guards every write.
    With `create_only`, an existing article of the same slug raises SlugTakenError
    before anything is written (the editor's "Add article" page). Without `may_grade`,
    a claim's certainty must be the one a reviewer gave it (the editor, for anyone but a
    Clinical reviewer); the operator's import carries the grades of the file.
    """
    if source.language:
        raise ArticleFileError(
            f"this file is a {source.language!r} translation of "
            f"{source.translation_of[0]}@{source.translation_of[1]}, not an article; import it "
            "with the import_translation command",
            path=source.path,
        )
    article = Article.objects.select_for_update().filter(slug=source.slug).first()
    created = article is None
    if create_only and not created:
        raise SlugTakenError(
            f"an article with the slug {source.slug!r} already exists", path=source.path
        )
    _refuse_too_long(source)
    if not may_grade:
        _refuse_grades_set(source=source, article=article)
    before = None if created else article_content_hash(article)
    resolved = _resolve_citations(source=source, article=article)
    if created:
        article = Article(slug=source.slug, owner=user)
    draft_write(
        article=article,
        user=user,
        source=source,
        citations_by_key=resolved,
        expected_lock_version=expected_lock_version,
        fresh=created,
    )
    # One read of the rows just written, for the content hash and for draft_verify.
    rows = draft_rows([article])[article.pk]
    after = snapshot_hash(snapshot_from_rows(article, rows))
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
    # The text the import parsed, reused only if the stored sections give exactly that text.
    draft_verify(article=article, rows=rows, parsed=(source.body, source.sections))
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
    create_only: bool = False,
) -> ImportResult:
    """Save the admin editor's form: the same parser, checks and lock as an import.

    Citation keys resolve to the article's bibliography or the citation library.
    Raises ArticleFileError (with the body line) or DraftConflictError; writes nothing then.
    """
    refuse_reordering_controls(title, where="article text", what="title", first_line=None)
    refuse_reordering_controls(summary, where="article text", what="summary", first_line=None)
    refuse_reordering_controls(body, where="article text", what="the text")
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
        body=body,
    )
    return article_import(
        source=source,
        user=user,
        expected_lock_version=expected_lock_version,
        event_kind=ReviewEvent.Kind.EDIT,
        event_comment="Edited in the admin",
        create_only=create_only,
        may_grade=grader(user),
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
    fresh: bool = False,
) -> None:
    """Replace the draft with `source`. Must run inside a transaction.
    `fresh`: the article is new, not saved yet (`Article(slug=..., owner=...)`): it is
    inserted here with the draft's fields, and has no draft rows to replace."""
    if article.status == Article.Status.WITHDRAWN:
        raise ArticleFileError(
            f"{article.slug} is withdrawn; its versions are archived and cannot be edited",
            path=source.path,
        )
    if fresh:  # nobody else can hold a revision of it: its first save is revision 2
        article.lock_version += 1
    else:
        _claim_lock(article=article, user=user, expected=expected_lock_version, source=source)
    article.title = source.title
    article.summary = source.summary
    article.audience = source.audience
    article.review_interval_months = source.review_interval_months
    article.last_edited_by = user
    # The slug's uniqueness is not queried: the article was looked up by this slug (and
    # locked) or the slug was free; a concurrent insert of it fails on the unique index.
    article.full_clean(
        exclude=["live_version", "owner", "last_edited_by", "topics"], validate_unique=False
    )
    if fresh:
        article.save(force_insert=True)
    else:
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
    if fresh:
        Article.topics.through.objects.bulk_create(
            Article.topics.through(article=article, topic=topic) for topic in topics
        )
    else:
        article.topics.set(topics)
    if created:
        ReviewEvent.objects.create(
            article=article,
            actor=user,
            kind=ReviewEvent.Kind.COMMENT,
            comment="Topic(s) created by import: "
            + ", ".join(f"{t.slug} ({t.name!r})" for t in created),
        )
    _write_sections(
        article=article,
        sections=source.sections,
        citations_by_key=citations_by_key,
        fresh=fresh,
    )


class SlugTakenError(ArticleFileError):
    """A new article was asked for with the slug of one that exists."""


class UnknownTopicError(ArticleFileError):
    """A draft names a topic that does not exist and its author may not create topics."""


def _refuse_too_long(source: ArticleFile) -> None:
    """Text longer than its column gets the file and line, before anything is written
    (not a database error after some rows were, nor a locator silently cut). The title's
    length is the file parser's check (TITLE_MAX) and the editor form's."""
    limits = {
        "heading": Section._meta.get_field("heading").max_length,
        "locator": ClaimCitation._meta.get_field("locator").max_length,
        "key": ArticleCitation._meta.get_field("key").max_length,
    }
    for section in source.sections:
        if len(section.heading) > limits["heading"]:
            raise ArticleFileError(
                f"the heading is {len(section.heading)} characters; at most {limits['heading']}",
                path=source.path,
                line=source.file_line(section.line),
            )
        refs = [*section.citations, *(r for c in section.claims for r in c.supports)]
        for ref in refs:
            for what in ("locator", "key"):
                value = getattr(ref, what)
                if len(value) > limits[what]:
                    raise ArticleFileError(
                        f"the citation's {what} is {len(value)} characters; at most {limits[what]}",
                        path=source.path,
                        line=source.file_line(ref.line),
                    )


def grader(user) -> bool:
    """Who may set a claim's certainty in the editor's text: a Clinical reviewer. Everyone
    else keeps the grades a reviewer gave; a reviewer grades on the review page
    (editorial.services.grading)."""
    return user is not None and user.groups.filter(name=CLINICAL_REVIEWERS).exists()


def _refuse_grades_set(*, source: ArticleFile, article: Article | None) -> None:
    """A claim's grade in the text must be the one already stored for that claim (or
    none): an author typing `certainty=high` would otherwise pass the ungraded-claim
    check with a grade no clinician gave."""
    graded = dict(article.claims.values_list("key", "certainty")) if article else {}
    for section in source.sections:
        for claim in section.claims:
            if claim.certainty and claim.certainty != graded.get(claim.id, ""):
                raise ArticleFileError(
                    f"claim {claim.id!r} says certainty={claim.certainty}, a grade no "
                    "clinical reviewer gave it: delete the certainty; a Clinical reviewer "
                    "grades each claim on the review page",
                    path=source.path,
                    line=source.file_line(claim.line),
                )


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
    *,
    article: Article,
    sections: list[SectionSource],
    citations_by_key: dict[str, Citation],
    fresh: bool = False,
) -> None:
    """Replace the draft's rows: a fixed number of queries whatever the article's size
    (each kind of row inserted in one statement)."""
    kept = {}
    if not fresh:  # a new article has no rows to replace
        article.claims.all().delete()
        article.sections.all().delete()
        ArticleCitation.objects.filter(article=article).exclude(key__in=citations_by_key).delete()
        kept = {link.key: link for link in ArticleCitation.objects.filter(article=article)}
    moved = []
    for key, citation in citations_by_key.items():
        link = kept.get(key)
        if link is not None and link.citation_id != citation.pk:
            link.citation = citation
            moved.append(link)
    ArticleCitation.objects.bulk_update(moved, ["citation"])
    ArticleCitation.objects.bulk_create(
        ArticleCitation(article=article, key=key, citation=citation)
        for key, citation in citations_by_key.items()
        if key not in kept
    )
    rows = Section.objects.bulk_create(
        Section(
            article=article,
            position=position,
            heading=source.heading,
            anchor=source.anchor,
            body=source.body,
        )
        for position, source in enumerate(sections)
    )
    claim_sources = [
        (section, claim_source)
        for section, source in zip(rows, sections, strict=True)
        for claim_source in source.claims
    ]
    claims = Claim.objects.bulk_create(
        Claim(
            article=article,
            section=section,
            key=claim_source.id,
            statement=claim_source.statement,
            certainty=claim_source.certainty,
            position=claim_position,
        )
        for claim_position, (section, claim_source) in enumerate(claim_sources)
    )
    ClaimCitation.objects.bulk_create(
        ClaimCitation(
            claim=claim,
            citation=citation,
            relation=relation,
            locator=locator,
            position=link_position,
        )
        for claim, (_, claim_source) in zip(claims, claim_sources, strict=True)
        for link_position, (citation, relation, locator) in enumerate(
            claim_links(claim_source, citations_by_key)
        )
    )


def draft_claims_relink(*, article: Article) -> None:
    """Rebuild every claim's citation links from the draft's Markdown and bibliography
    (after the library changed under it, e.g. a merge of duplicate citations)."""
    citation_ids = dict(article.bibliography.values_list("key", "citation_id"))
    claims = {claim.key: claim for claim in article.claims.all()}
    ClaimCitation.objects.filter(claim__article=article).delete()
    links = []
    for section in parse_body(draft_body_text(article)):
        for source in section.claims:
            if source.id not in claims or not claim_keys_known(source, citation_ids):
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
