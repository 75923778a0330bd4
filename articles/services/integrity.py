"""Evidence integrity: identifiers, duplicate and unused citations, and retractions.

`citations_check` runs every check `manage.py check_citations` reports. Rules enforced:

- A citation's retraction status only ever rises automatically (none < corrected <
  expression of concern < retracted). Lowering it (after a reinstatement, say) is an
  editor's decision in the admin; the check reports what the source says.
- When a source becomes retracted or under an expression of concern, every article
  whose live version cites it shows readers a notice above the live version and goes
  back to clinical review (`article_flag_for_rereview`): published -> in review, and
  an approval not yet published is void. The live version stays up; the notice goes
  when a version a clinician approved afterwards goes live (`version_publish`).
  Articles whose draft alone cites it get a review comment; the approval gates
  already refuse a retracted source.
- A merge keeps the oldest citation, repoints every claim link and bibliography key to
  it without losing one, carries over identifiers it lacked, and leaves a ReviewEvent
  on each article it touched. Citations with different DOIs, PMIDs or PMCIDs are never
  merged automatically.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from articles.models import (
    Article,
    ArticleCitation,
    ArticleVersion,
    Citation,
    ClaimCitation,
    EvidenceFactChange,
    ReviewEvent,
)
from articles.services.drafts import (
    DraftIntegrityError,
    article_content_hash,
    draft_claims_relink,
    draft_problems,
    draft_reopen,
    draft_verify,
)
from articles.services.workflow import CLINICAL_REVIEWERS, _locked, _record, user_in_group
from articles.signals import article_notice_changed, send_after_commit
from evidence import citations, fetching, retractions
from evidence.retractions import REINSTATED, RetractionRecord, severity

Progress = Callable[[str, int, int | None], None]
R = Citation.Retraction
S = Article.Status
FLAGGING = frozenset({R.CONCERN, R.RETRACTED})
_IDENTIFIERS = (
    ("doi", "DOI", citations.normalize_doi),
    ("pmid", "PMID", citations.normalize_pmid),
    ("pmcid", "PMCID", citations.normalize_pmcid),
)
_MARKUP = re.compile(r"<[^>]{0,200}>")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _no_progress(label: str, done: int, total: int | None = None) -> None:
    return None


def citation_label(citation: Citation) -> str:
    """'#12 "feder2014" (DOI 10.1001/...)': how reports and comments name a citation."""
    ids = ", ".join(
        f"{label} {getattr(citation, name)}"
        for name, label, _ in _IDENTIFIERS
        if getattr(citation, name)
    )
    return f'#{citation.pk} "{citation.key}"' + (f" ({ids})" if ids else "")


# --- identifiers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentifierProblem:
    citation_id: int
    key: str
    field: str
    value: str
    message: str


def citation_identifier_problems(*, citation: Citation) -> list[IdentifierProblem]:
    """Stored identifiers that are invalid or not normalised, and CSL records whose
    identifiers disagree with the stored ones (lookups and dedupe would then miss)."""
    problems = []

    def problem(name: str, value, message: str) -> None:
        problems.append(IdentifierProblem(citation.pk, citation.key, name, str(value), message))

    for name, label, normalize in _IDENTIFIERS:
        stored = getattr(citation, name)
        if stored:
            try:
                normal = normalize(stored)
            except citations.IdentifierError as exc:
                problem(name, stored, str(exc))
            else:
                if normal != stored:
                    problem(name, stored, f"{label} {stored!r} is stored unnormalised ({normal})")
        in_csl = citations.identifier_value(citation.csl or {}, label)
        if in_csl is None:
            continue
        try:
            normal = normalize(in_csl)
        except citations.IdentifierError as exc:
            problem(name, in_csl, f"the CSL record's {label}: {exc}")
            continue
        if normal != stored:
            problem(
                name,
                in_csl,
                f"the CSL record has {label} {normal} but the library has {stored or 'none'}",
            )
    return problems


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


def _identifiers(citation: Citation) -> dict[str, set[str]]:
    """Every valid identifier the citation carries, in its columns or its CSL record."""
    found: dict[str, set[str]] = {name: set() for name, _, _ in _IDENTIFIERS}
    for name, label, normalize in _IDENTIFIERS:
        for value in (getattr(citation, name), citations.identifier_value(citation.csl, label)):
            if value:
                with contextlib.suppress(citations.IdentifierError):
                    found[name].add(normalize(value))
    return found


def _conflicts(group: list[Citation]) -> list[str]:
    """Why `group` must not be merged automatically: it names two different works."""
    conflicts = []
    for name, label, _ in _IDENTIFIERS:
        values = set().union(*(_identifiers(c)[name] for c in group))
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
        for name, values in _identifiers(citation).items():
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
class FlaggedArticle:
    slug: str
    citation_id: int
    from_state: str
    to_state: str
    notice: bool

    def as_dict(self) -> dict:
        return asdict(self)


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


# --- retractions: which articles rely on a source, and flagging them ---------------------------

NOTICE_TAIL = "A clinician is re-checking this page."
_NOTICE_SENTENCES = {
    R.RETRACTED: "A source this page relies on has been retracted (withdrawn by the journal "
    "that published it): {title}.",
    R.CONCERN: "A source this page relies on has an expression of concern (its journal has "
    "raised doubts about it): {title}.",
}


def _notice_title(citation: Citation) -> str:
    title = " ".join(_MARKUP.sub("", citation.title).split()).rstrip(".")
    return f"\u201c{title}\u201d" + (f" ({citation.year})" if citation.year else "")


def notice_with(existing: str, *, citation: Citation) -> str:
    """The reader notice with a sentence about `citation`, one sentence per line; a
    concern that later became a retraction is then described once, as a retraction."""
    title = _notice_title(citation)
    superseded = {
        template.format(title=title)
        for status, template in _NOTICE_SENTENCES.items()
        if status != citation.retraction_status
    }
    lines = [
        line
        for line in existing.splitlines()
        if line.strip() and line != NOTICE_TAIL and line not in superseded
    ]
    sentence = _NOTICE_SENTENCES[citation.retraction_status].format(title=title)
    if sentence not in lines:
        lines.append(sentence)
    return "\n".join([*lines, NOTICE_TAIL])


def _cites(item: dict, ids: dict[str, set[str]]) -> bool:
    try:
        doi, pmid, pmcid = citations.item_identifiers(item)
    except citations.IdentifierError:
        return False
    return bool(
        (doi and doi in ids["doi"])
        or (pmid and pmid in ids["pmid"])
        or (pmcid and pmcid in ids["pmcid"])
    )


def citation_relying_articles(*, citation: Citation) -> tuple[set[int], set[int]]:
    """(articles whose live version cites `citation`, articles whose draft cites it).

    The live version is matched on its frozen bibliography: by identifier, or (for a
    work without one) by the same key and record as the draft's.
    """
    draft_keys: dict[int, set[str]] = defaultdict(set)
    for article_id, key in ArticleCitation.objects.filter(citation=citation).values_list(
        "article", "key"
    ):
        draft_keys[article_id].add(key)
    ids = _identifiers(citation)
    record = {k: v for k, v in (citation.csl or {}).items() if k != "id"}
    live = set()
    for article_id, snapshot in Article.objects.live().values_list("pk", "live_version__snapshot"):
        bibliography = (snapshot or {}).get("bibliography") or {}
        if any(ids.values()):
            if any(_cites(item, ids) for item in bibliography.values()):
                live.add(article_id)
        elif any(
            key in bibliography
            and {k: v for k, v in bibliography[key].items() if k != "id"} == record
            for key in draft_keys.get(article_id, ())
        ):
            live.add(article_id)
    return live, set(draft_keys)


def citation_articles_flag(
    *, citation: Citation, only: set[int] | None = None, by: str = "check_citations"
) -> list[FlaggedArticle]:
    """Flag every article (or those in `only`) relying on a retracted or concerning source."""
    live, draft = citation_relying_articles(citation=citation)
    ids = live | draft if only is None else (live | draft) & only
    return [
        article_flag_for_rereview(
            article=article, citation=citation, live_relies=article.pk in live, by=by
        )
        for article in Article.objects.filter(pk__in=ids).exclude(status=S.WITHDRAWN).order_by("pk")
    ]


@transaction.atomic
def article_flag_for_rereview(
    *, article: Article, citation: Citation, live_relies: bool = True, by: str = "check_citations"
) -> FlaggedArticle:
    """The system's re-review when a source turned retracted or concerning. No role may
    refuse it; only a clinician's re-approval, once live, lifts the notice.

    - the live version stays up, and `retraction_notice` is shown to readers above it;
    - published -> in_review; approved -> in_review (the approval covered content that
      relies on the source: it is void, and a scheduled go-live is cancelled);
    - any other state stays (the draft is on its way to review anyway);
    - a ReviewEvent with no actor (the system) names the citation and the evidence,
      and any difference between the draft's stored claims and its text (`draft_problems`).
    """
    _locked(article)
    source = article.status
    what = (
        "has been retracted"
        if citation.retraction_status == R.RETRACTED
        else "has an expression of concern"
    )
    comment = (
        f"{by}: a source this article cites {what}: {citation.title} "
        f"[{citation_label(citation)}]. {citation.retraction_note}"
    ).strip()
    changed = []
    if live_relies and article.live_version_id:
        notice = notice_with(article.retraction_notice, citation=citation)
        if notice != article.retraction_notice:
            article.retraction_notice = notice
            changed.append("retraction_notice")
            comment += (
                " The live version stays up, with a notice to readers until a version a "
                "clinician re-approves is published."
            )
    if source in (S.PUBLISHED, S.APPROVED):
        article.status = S.IN_REVIEW
        changed.append("status")
        if source == S.APPROVED:
            cancelled = ArticleVersion.objects.filter(
                article=article, published_at__isnull=True, scheduled_for__isnull=False
            ).update(scheduled_for=None)
            comment += " The approval is void" + (
                "; its scheduled publication is cancelled." if cancelled else "."
            )
    if changed:
        article.save(update_fields=[*changed, "updated_at"])
    if problems := draft_problems(article):
        # Never a reason to hold back a retraction flag: said on the trail instead; the
        # approval refuses this draft until it is saved again (rule "draft-integrity").
        comment += " The draft's stored claims do not match its text: " + "; ".join(problems)
    if "status" in changed:
        _record(article, None, source=source, target=S.IN_REVIEW, comment=comment)
    else:
        ReviewEvent.objects.create(
            article=article,
            kind=ReviewEvent.Kind.COMMENT,
            content_hash=article_content_hash(article),
            comment=comment,
        )
    if "retraction_notice" in changed:
        send_after_commit(article_notice_changed, article=article)
    return FlaggedArticle(
        slug=article.slug,
        citation_id=citation.pk,
        from_state=source,
        to_state=article.status,
        notice=bool(article.retraction_notice),
    )


@dataclass
class RetractionFinding:
    citation_id: int
    key: str
    title: str
    doi: str
    pmid: str
    previous: str
    status: str
    changed: bool
    evidence: str
    flagged: list[FlaggedArticle] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


EVIDENCE_FIELDS = ("retraction_status", "retraction_note", "study_design")
EVIDENCE_SOURCES = ("check_citations", "reviewer", "merge")


class EvidenceChangeRefused(Exception):
    """A change to a citation's evidence facts that the rules refuse; the message says why."""


def _evidence_record(
    *, citation: Citation, before: tuple[str, str], actor, source: str, reason: str
) -> list[EvidenceFactChange]:
    """Append one audit row per evidence fact that differs from `before`."""
    rows = [
        EvidenceFactChange(
            citation=citation,
            citation_key=citation.key,
            field=name,
            from_value=old,
            to_value=getattr(citation, name),
            actor=actor,
            source=source,
            reason=reason,
        )
        for name, old in zip(EVIDENCE_FIELDS, before, strict=True)
        if getattr(citation, name) != old
    ]
    return EvidenceFactChange.objects.bulk_create(rows)


def evidence_editor(user) -> bool:
    """Who may change a citation's evidence facts by hand: a Clinical reviewer (or superuser)."""
    return bool(
        user and user.is_active and (user.is_superuser or user_in_group(user, CLINICAL_REVIEWERS))
    )


@transaction.atomic
def citation_evidence_set(
    *,
    citation: Citation,
    status: str,
    note: str,
    source: str,
    actor=None,
    reason: str = "",
    checked_at: datetime | None = None,
    only_raise: bool = False,
    study_design: str | None = None,
) -> RetractionFinding:
    """THE one way a citation's retraction status or note changes, wherever the change is
    made (check_citations, a Clinical reviewer in the admin, a command).

    - `source="reviewer"` needs an `actor` who is a Clinical reviewer (or superuser) and a
      non-empty `reason`; anything else raises EvidenceChangeRefused.
    - `only_raise` (check_citations) never lowers the status.
    - Every changed fact gets an append-only EvidenceFactChange row (who, when, from, to,
      source, reason).
    - A status that becomes retracted or concerning flags every article relying on the
      source (reader notice on live versions, back to review); any other change of status
      leaves a comment on every relying article, so the reviewer sees it.
    """
    if source not in EVIDENCE_SOURCES:
        raise EvidenceChangeRefused(f"unknown source of an evidence change: {source!r}")
    if status not in R.values:
        raise EvidenceChangeRefused(f"not a retraction status: {status!r}")
    if study_design is not None and study_design not in Citation.StudyDesign.values:
        raise EvidenceChangeRefused(f"not a study design: {study_design!r}")
    reason = (reason or "").strip()
    if source == "reviewer":
        if not evidence_editor(actor):
            raise EvidenceChangeRefused(
                "Only a Clinical reviewer may change a citation's retraction status."
            )
        if not reason:
            raise EvidenceChangeRefused("Give a reason: it goes into the audit log.")
    citation = Citation.objects.select_for_update().get(pk=citation.pk)
    before = (citation.retraction_status, citation.retraction_note, citation.study_design)
    previous = citation.retraction_status
    changed = severity(status) > severity(previous) if only_raise else status != previous
    finding = RetractionFinding(
        citation_id=citation.pk,
        key=citation.key,
        title=citation.title,
        doi=citation.doi,
        pmid=citation.pmid,
        previous=previous,
        status=status if changed else previous,
        changed=changed,
        evidence=note,
    )
    fields = []
    if checked_at is not None:
        citation.retraction_checked_at = checked_at
        fields.append("retraction_checked_at")
    if changed:
        citation.retraction_status = status
        citation.retraction_note = note[:2000]
    elif not only_raise and note[:2000] != citation.retraction_note:
        citation.retraction_note = note[:2000]
    fields += [
        n for n, old in zip(EVIDENCE_FIELDS, before, strict=True) if getattr(citation, n) != old
    ]
    if fields:
        citation.save(update_fields=fields)
    audit = _evidence_record(
        citation=citation, before=before, actor=actor, source=source, reason=reason
    )
    if changed and status in FLAGGING and severity(status) > severity(previous):
        by = "check_citations" if source == "check_citations" else f"{source} {actor or ''}"
        if reason:
            by += f" (reason: {reason})"
        finding.flagged = citation_articles_flag(citation=citation, by=by.strip())
    elif audit:
        _evidence_comment(citation=citation, audit=audit, actor=actor)
    return finding


def _evidence_comment(*, citation: Citation, audit: list[EvidenceFactChange], actor) -> None:
    live, draft = citation_relying_articles(citation=citation)
    changes = "; ".join(f"{row.field}: {row.from_value!r} -> {row.to_value!r}" for row in audit)
    comment = (
        f"Evidence facts of {citation.title} [{citation_label(citation)}] changed by "
        f"{audit[0].source}: {changes}."
        + (f" Reason: {audit[0].reason}" if audit[0].reason else "")
    )
    for article in Article.objects.filter(pk__in=live | draft).order_by("pk"):
        ReviewEvent.objects.create(
            article=article,
            actor=actor,
            kind=ReviewEvent.Kind.COMMENT,
            content_hash=article_content_hash(article),
            comment=comment,
        )


def citation_retraction_apply(
    *, citation: Citation, status: str, evidence: str, checked_at: datetime
) -> RetractionFinding:
    """check_citations: raise a citation's retraction status to `status` (never lower it),
    through `citation_evidence_set`."""
    return citation_evidence_set(
        citation=citation,
        status=status,
        note=evidence,
        source="check_citations",
        checked_at=checked_at,
        only_raise=True,
    )


# --- online sources --------------------------------------------------------------------------


class CrossrefUnavailable(Exception):
    """The online check cannot run; the message says why."""


def crossref_client():
    """The allow-listed metadata client, `evidence.fetching.MetadataClient`.

    Raises CrossrefUnavailable when it cannot be set up (a bad setting, an unreadable CA
    file), so `check_citations` reports "crossref check skipped: <reason>" and carries on.
    """
    try:
        return fetching.MetadataClient()
    except Exception as exc:
        raise CrossrefUnavailable(f"the metadata client could not start: {exc}") from exc


# Failures that will repeat for every work: stop asking.
_NETWORK_DOWN = (fetching.NotAllowed, fetching.Unreachable, fetching.Timeout, OSError)


@dataclass
class OnlineCheck:
    records: dict[int, list[RetractionRecord]] = field(default_factory=dict)
    checked: list[int] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    skipped: str = ""

    def as_dict(self) -> dict:
        data = {"checked": len(self.checked), "errors": self.errors}
        return data | ({"skipped": self.skipped} if self.skipped else {})


def online_check(
    *, library: list[Citation], client, progress: Progress = _no_progress
) -> OnlineCheck:
    """Update notices from Crossref's `updated-by` (works with a DOI) and PubMed (works
    with only a PMID), through `client`: a MetadataClient, or a test double with
    `fetch_doi` and `fetch_pmid`. A failure for one work is listed; one that means the
    network or service is down stops the check with the reason."""
    check = OnlineCheck()
    works = [c for c in library if c.doi or c.pmid]
    for done, citation in enumerate(works):
        progress("Checking Crossref/PubMed", done, len(works))
        try:
            if citation.doi:
                fetched, source = client.fetch_doi(citation.doi), "Crossref"
            else:
                fetched, source = client.fetch_pmid(citation.pmid), "PubMed"
        except (fetching.FetchError, OSError) as exc:
            if isinstance(exc, _NETWORK_DOWN):
                check.skipped = str(exc) or type(exc).__name__
                break
            check.errors.append({"citation": citation.pk, "key": citation.key, "error": str(exc)})
            continue
        check.checked.append(citation.pk)
        if records := retractions.records_from_updates(fetched.updated_by, source=source):
            check.records[citation.pk] = records
    progress("Checking Crossref/PubMed", len(works), len(works))
    return check


# --- the whole check -------------------------------------------------------------------------


@dataclass
class CheckReport:
    citations: int = 0
    identifier_problems: list[IdentifierProblem] = field(default_factory=list)
    duplicates: list[DuplicateGroup] = field(default_factory=list)
    merged: list[MergeResult] = field(default_factory=list)
    merge_errors: list[str] = field(default_factory=list)
    unused: list[dict] = field(default_factory=list)
    retraction_file_rows: int | None = None
    online: dict = field(default_factory=dict)
    retractions: list[RetractionFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    awaiting_rereview: list[str] = field(default_factory=list)

    @property
    def unmerged_duplicates(self) -> list[DuplicateGroup]:
        """Groups `--merge` would merge and has not. Groups whose members carry different
        identifiers are listed for an editor but do not fail the check: they are often
        two real works (a preprint and its journal version, an erratum)."""
        merged = {m.keeper_id for m in self.merged}
        return [g for g in self.duplicates if g.mergeable and g.keeper.pk not in merged]

    @property
    def needs_attention(self) -> bool:
        """Exit 1: a bad identifier, an unmerged duplicate, a failed merge, a source this
        run found retracted or concerning, or an article whose notice awaits re-approval."""
        return bool(
            self.identifier_problems
            or self.unmerged_duplicates
            or self.merge_errors
            or any(f.changed and f.status in FLAGGING for f in self.retractions)
            or self.awaiting_rereview
        )

    def as_dict(self) -> dict:
        return {
            "needs_attention": self.needs_attention,
            "citations": self.citations,
            "identifier_problems": [asdict(p) for p in self.identifier_problems],
            "duplicates": [g.as_dict() for g in self.duplicates],
            "merged": [m.as_dict() for m in self.merged],
            "merge_errors": self.merge_errors,
            "unused": self.unused,
            "retraction_file_rows": self.retraction_file_rows,
            "online": self.online,
            "retractions": [f.as_dict() for f in self.retractions],
            "notes": self.notes,
            "awaiting_rereview": self.awaiting_rereview,
        }


def citations_check(
    *,
    retraction_file: str | Path | None = None,
    client=None,
    offline_reason: str = "",
    merge: bool = False,
    progress: Progress = _no_progress,
) -> CheckReport:
    """Run every check. `client` is the metadata client for the online check (None:
    skipped, reporting `offline_reason`). Each merge and each retraction commits on its
    own, so an interrupted run keeps what it finished and a rerun picks up the rest.

    Raises retractions.RetractionFileError for an unreadable Retraction Watch file,
    before anything is changed.
    """
    report = CheckReport()
    library = list(Citation.objects.order_by("created_at", "pk"))
    report.citations = len(library)
    for done, citation in enumerate(library, start=1):
        report.identifier_problems.extend(citation_identifier_problems(citation=citation))
        progress("Checking identifiers", done, len(library))

    records: dict[int, list[RetractionRecord]] = defaultdict(list)
    checked: set[int] = set()
    if retraction_file is not None:
        by_doi = {c.doi: c.pk for c in library if c.doi}
        by_pmid = {c.pmid: c.pk for c in library if c.pmid}
        found, report.retraction_file_rows = retractions.retraction_watch_records(
            retraction_file, dois=set(by_doi), pmids=set(by_pmid), progress=progress
        )
        checked |= set(by_doi.values()) | set(by_pmid.values())
        for (kind, value), rows in found.items():
            pk = (by_doi if kind == "doi" else by_pmid)[value]
            records[pk].extend(row for row in rows if row not in records[pk])

    report.duplicates = citation_duplicates(library=library)
    if merge:
        for group in (g for g in report.duplicates if g.mergeable):
            try:
                report.merged.append(
                    citations_merge(keeper=group.keeper, duplicates=group.duplicates)
                )
            except Exception as exc:  # one group failing must not stop the others
                report.merge_errors.append(
                    f"merging into {citation_label(group.keeper)} failed: {exc}"
                )
        gone = {pk: m.keeper_id for m in report.merged for pk in m.merged_ids}
        for pk in [pk for pk in records if pk in gone]:
            records[gone[pk]].extend(records.pop(pk))
        checked = {gone.get(pk, pk) for pk in checked}
        library = list(Citation.objects.order_by("created_at", "pk"))

    if client is None:
        report.online = {"checked": 0, "skipped": offline_reason or "no metadata client"}
    else:
        online = online_check(library=library, client=client, progress=progress)
        report.online = online.as_dict()
        checked |= set(online.checked)
        for pk, rows in online.records.items():
            records[pk].extend(rows)

    now = timezone.now()
    by_pk = {c.pk: c for c in library}
    for pk, rows in sorted(records.items()):
        status, decisive = retractions.retraction_outcome(rows)
        citation = by_pk[pk]
        if status == REINSTATED:
            if citation.retraction_status != R.NONE:
                report.notes.append(
                    f"{citation_label(citation)}: {decisive.describe()}. Its status stays "
                    f"{citation.retraction_status!r} until an editor changes it."
                )
            continue
        if status == R.NONE:
            continue
        evidence = "; ".join(r.describe() for r in sorted(rows, key=lambda r: r.date or date.min))
        report.retractions.append(
            citation_retraction_apply(
                citation=citation, status=status, evidence=evidence, checked_at=now
            )
        )
    found = {f.citation_id for f in report.retractions}
    Citation.objects.filter(pk__in=checked - found).update(retraction_checked_at=now)

    report.unused = citations_unused()
    report.awaiting_rereview = list(
        Article.objects.live()
        .exclude(retraction_notice="")
        .order_by("slug")
        .values_list("slug", flat=True)
    )
    return report
