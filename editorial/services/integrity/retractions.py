"""Retractions: which articles rely on a source, flagging them for re-review with a
notice to readers, and the one audited service that changes a citation's evidence
facts (retraction status, note, study design)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext

from articles.models import (
    Article,
    ArticleCitation,
    ArticleVersion,
    Citation,
    EvidenceFactChange,
    ReviewEvent,
)
from articles.services.consistency import draft_problems
from articles.services.snapshots import article_content_hash
from articles.signals import article_notice_changed, send_after_commit
from editorial.services.integrity.common import (
    FLAGGING,
    FlaggedArticle,
    R,
    S,
    citation_identifiers,
    citation_label,
)
from editorial.services.workflow import CLINICAL_REVIEWERS, _locked, _record, user_in_group
from evidence import citations
from evidence.retractions import severity
from evidence.text import plain_text

# --- retractions: which articles rely on a source, and flagging them ---------------------------

NOTICE_TAIL = "A clinician is re-checking this page."
_NOTICE_SENTENCES = {
    R.RETRACTED: "A source this page relies on has been retracted (withdrawn by the journal "
    "that published it): {title}.",
    R.CONCERN: "A source this page relies on has an expression of concern (its journal has "
    "raised doubts about it): {title}.",
}


def _notice_title(citation: Citation) -> str:
    title = plain_text(citation.title).rstrip(".")
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
    ids = citation_identifiers(citation)
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
                gettext("Only a Clinical reviewer may change a citation's retraction status.")
            )
        if not reason:
            raise EvidenceChangeRefused(gettext("Give a reason: it goes into the audit log."))
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
