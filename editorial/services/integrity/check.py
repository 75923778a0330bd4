"""`citations_check`: every check `manage.py check_citations` reports, in one run."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from django.utils import timezone

from articles.models import (
    Article,
    Citation,
)
from editorial.services.integrity.common import (
    FLAGGING,
    Progress,
    R,
    _no_progress,
    citation_label,
)
from editorial.services.integrity.duplicates import (
    DuplicateGroup,
    MergeResult,
    citation_duplicates,
    citations_merge,
    citations_unused,
)
from editorial.services.integrity.identifiers import IdentifierProblem, citation_identifier_problems
from editorial.services.integrity.online import online_check
from editorial.services.integrity.retractions import RetractionFinding, citation_retraction_apply
from evidence import retractions
from evidence.retractions import REINSTATED, RetractionRecord

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
