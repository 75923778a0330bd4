"""Duplicate citations (same identifier, or same title and first author), merging them
without losing a claim link or key, and citations no article uses."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from django.db import transaction
from django.db.models import Exists, OuterRef

from articles.models import (
    Article,
    ArticleCitation,
    Citation,
    ClaimCitation,
    ReviewEvent,
)
from articles.services.drafts import (
    DraftIntegrityError,
    draft_claims_relink,
    draft_reopen,
    draft_verify,
)
from articles.services.snapshots import article_content_hash
from editorial.services.integrity.common import (
    _IDENTIFIERS,
    _MARKUP,
    _NOT_WORD,
    FLAGGING,
    FlaggedArticle,
    citation_identifiers,
    citation_label,
)
from editorial.services.integrity.retractions import _evidence_record, citation_articles_flag
from evidence.retractions import severity

# --- duplicates ----------------------------------------------------------------------------


def _fold(text) -> str:
    """Lowercase ASCII words: markup, accents, punctuation and spacing dropped."""
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFKD", _MARKUP.sub("", text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return _NOT_WORD.sub(" ", text).strip()


def _first_author(csl: dict) -> str:
    for role in ("author", "editor"):
        people = csl.get(role)
        if isinstance(people, list) and people and isinstance(people[0], dict):
            return _fold(people[0].get("family") or people[0].get("literal") or "")
    return ""


def title_key(citation: Citation) -> str | None:
    """Normalised title, year and first author's family name; None without a title or year."""
    title = _fold(citation.title)
    if not title or not citation.year:
        return None
    return f"{title}|{citation.year}|{_first_author(citation.csl or {})}"


def _conflicts(group: list[Citation]) -> list[str]:
    """Why `group` must not be merged automatically: it names two different works."""
    conflicts = []
    for name, label, _ in _IDENTIFIERS:
        values = set().union(*(citation_identifiers(c)[name] for c in group))
        if len(values) > 1:
            conflicts.append(f"different {label}s: {', '.join(sorted(values))}")
    return conflicts


@dataclass
class DuplicateGroup:
    citations: list[Citation]  # oldest first: the first is the one a merge keeps
    reasons: list[str]
    conflicts: list[str] = field(default_factory=list)

    @property
    def keeper(self) -> Citation:
        return self.citations[0]

    @property
    def duplicates(self) -> list[Citation]:
        return self.citations[1:]

    @property
    def mergeable(self) -> bool:
        return not self.conflicts

    def as_dict(self) -> dict:
        return {
            "keep": self.keeper.pk,
            "merge": [c.pk for c in self.duplicates],
            "citations": [
                {"id": c.pk, "key": c.key, "title": c.title, "year": c.year} for c in self.citations
            ],
            "reasons": self.reasons,
            "conflicts": self.conflicts,
            "mergeable": self.mergeable,
        }


def citation_duplicates(*, library: Iterable[Citation] | None = None) -> list[DuplicateGroup]:
    """Groups of citations that are one work: a shared DOI, PMID or PMCID (in a column
    or the CSL record), or the same normalised title, year and first author."""
    if library is None:
        library = Citation.objects.order_by("created_at", "pk")
    library = list(library)
    parent = {c.pk: c.pk for c in library}

    def root(pk: int) -> int:
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    sharing: dict[tuple[str, str], list[int]] = defaultdict(list)
    for citation in library:
        for name, values in citation_identifiers(citation).items():
            for value in values:
                sharing[(name, value)].append(citation.pk)
        if key := title_key(citation):
            sharing[("title", key)].append(citation.pk)
    for pks in sharing.values():
        for pk in pks[1:]:
            parent[root(pk)] = root(pks[0])

    members: dict[int, list[Citation]] = defaultdict(list)
    for citation in library:
        members[root(citation.pk)].append(citation)
    groups = []
    for group in (g for g in members.values() if len(g) > 1):
        group.sort(key=lambda c: (c.created_at, c.pk))
        pks = {c.pk for c in group}
        reasons = sorted(
            "same title, year and first author"
            if name == "title"
            else f"same {name.upper()} {value}"
            for (name, value), found in sharing.items()
            if len(set(found) & pks) > 1
        )
        groups.append(DuplicateGroup(citations=group, reasons=reasons, conflicts=_conflicts(group)))
    return sorted(groups, key=lambda g: g.keeper.pk)


@dataclass
class MergeResult:
    keeper_id: int
    merged_ids: list[int]
    links_moved: int = 0
    links_combined: int = 0
    keys_repointed: int = 0
    articles: list[str] = field(default_factory=list)
    flagged: list[FlaggedArticle] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class MergeError(Exception):
    pass


@transaction.atomic
def citations_merge(*, keeper: Citation, duplicates: list[Citation]) -> MergeResult:
    """Merge `duplicates` into `keeper`; every claim link and bibliography key moves.

    A claim that cited both keeps one link per relation, at its first mention with the
    first locator given, as a save would derive it: the unique (claim, citation,
    relation) constraint holds and no claim loses a citation. Bibliography keys stay as
    the Markdown wrote them. An article whose draft changes (its bibliography now shows the
    kept record) is reopened as any edit is; every touched article gets a ReviewEvent.
    Each touched draft's claim links are then re-derived from its Markdown (two keys of
    one claim may now name one work) and checked (`draft_verify`); a mismatch refuses
    the whole merge.
    """
    pks = [keeper.pk, *(d.pk for d in duplicates)]
    locked = {c.pk: c for c in Citation.objects.select_for_update().filter(pk__in=pks)}
    if len(locked) != len(set(pks)) or keeper.pk in {d.pk for d in duplicates}:
        raise MergeError(f"cannot merge citations {pks}: some no longer exist or repeat")
    keeper, duplicates = locked[keeper.pk], [locked[d.pk] for d in duplicates]
    if conflicts := _conflicts([keeper, *duplicates]):
        raise MergeError("; ".join(conflicts))
    dup_pks = [d.pk for d in duplicates]
    article_ids = set(
        ArticleCitation.objects.filter(citation__in=dup_pks).values_list("article", flat=True)
    ) | set(
        ClaimCitation.objects.filter(citation__in=dup_pks).values_list("claim__article", flat=True)
    )
    articles = list(Article.objects.select_for_update().filter(pk__in=article_ids).order_by("pk"))
    before = {a.pk: article_content_hash(a) for a in articles}
    keys = defaultdict(list)
    for article_id, key in ArticleCitation.objects.filter(citation__in=dup_pks).values_list(
        "article", "key"
    ):
        keys[article_id].append(key)

    result = MergeResult(keeper_id=keeper.pk, merged_ids=dup_pks)
    for link in ClaimCitation.objects.filter(citation__in=dup_pks).order_by("pk"):
        kept = ClaimCitation.objects.filter(
            claim=link.claim_id, citation=keeper, relation=link.relation
        ).first()
        if kept is None:
            link.citation = keeper
            link.save(update_fields=["citation"])
            result.links_moved += 1
            continue
        if link.locator and not kept.locator:
            kept.locator = link.locator
            kept.save(update_fields=["locator"])
        link.delete()
        result.links_combined += 1
    result.keys_repointed = ArticleCitation.objects.filter(citation__in=dup_pks).update(
        citation=keeper
    )

    was_flagging = keeper.retraction_status in FLAGGING
    keeper_before = (keeper.retraction_status, keeper.retraction_note, keeper.study_design)
    weaker = [
        d.pk
        for d in duplicates
        if severity(d.retraction_status) < severity(keeper.retraction_status)
    ]
    carried = {}
    for dup in duplicates:
        for name, _, _ in _IDENTIFIERS:
            if not getattr(keeper, name) and getattr(dup, name):
                carried.setdefault(name, getattr(dup, name))
        if severity(dup.retraction_status) > severity(keeper.retraction_status):
            keeper.retraction_status = dup.retraction_status
            keeper.retraction_note = dup.retraction_note
        if dup.retraction_checked_at and (
            keeper.retraction_checked_at is None
            or dup.retraction_checked_at > keeper.retraction_checked_at
        ):
            keeper.retraction_checked_at = dup.retraction_checked_at
        keeper.url = keeper.url or dup.url
    # PROTECT raises here if anything not repointed above still refers to a duplicate.
    Citation.objects.filter(pk__in=dup_pks).delete()
    for name, value in carried.items():  # after the delete: the identifiers are unique
        setattr(keeper, name, value)
    keeper.save()
    _evidence_record(
        citation=keeper,
        before=keeper_before,
        actor=None,
        source="merge",
        reason="merged with duplicate citation(s) "
        + ", ".join(citation_label(d) for d in duplicates),
    )

    described = "; ".join(f"{citation_label(d)} \u201c{d.title}\u201d" for d in duplicates)
    for article in articles:
        # Two keys of one claim may now name one work: the links are re-derived from the
        # Markdown exactly as a save derives them, then checked against it.
        draft_claims_relink(article=article)
        try:
            draft_verify(article=article)
        except DraftIntegrityError as exc:
            raise MergeError(str(exc)) from exc
        after = article_content_hash(article)
        comment = (
            f"Citation library merge (check_citations --merge): {described} duplicated "
            f"{citation_label(keeper)} \u201c{keeper.title}\u201d. Bibliography keys "
            f"{', '.join(sorted(keys[article.pk])) or '(none)'} and every claim link now point "
            "to it; no claim lost a citation."
        )
        source = article.status
        changed = after != before[article.pk]
        if changed:
            draft_reopen(article=article)
            comment += " The bibliography now shows the kept record, so the draft changed."
        ReviewEvent.objects.create(
            article=article,
            kind=ReviewEvent.Kind.EDIT if changed else ReviewEvent.Kind.COMMENT,
            from_state=source if changed else "",
            to_state=article.status if changed else "",
            content_hash=after,
            comment=comment,
        )
        result.articles.append(article.slug)
    if keeper.retraction_status in FLAGGING and not was_flagging:
        result.flagged = citation_articles_flag(citation=keeper)
    elif keeper.retraction_status in FLAGGING and weaker:
        # Articles that cited a weaker duplicate now rely on a source known to be bad.
        newly = set(
            ArticleCitation.objects.filter(citation=keeper, article__in=article_ids).values_list(
                "article", flat=True
            )
        )
        result.flagged = citation_articles_flag(citation=keeper, only=newly)
    return result


# --- unused --------------------------------------------------------------------------------


def citations_unused() -> list[dict]:
    """Citations no claim cites; `in_bibliography` says whether an article still lists
    them (cited in running text, or left in its bibliography)."""
    rows = (
        Citation.objects.annotate(
            listed=Exists(ArticleCitation.objects.filter(citation=OuterRef("pk")))
        )
        .filter(~Exists(ClaimCitation.objects.filter(citation=OuterRef("pk"))))
        .order_by("key", "pk")
        .values("pk", "key", "title", "listed")
    )
    return [
        {"id": r["pk"], "key": r["key"], "title": r["title"], "in_bibliography": r["listed"]}
        for r in rows
    ]
