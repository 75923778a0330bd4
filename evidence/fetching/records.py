"""What a metadata lookup returns: the CSL item and the update notices (retractions,
corrections, concerns) that link it to other works."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from evidence.identifiers import IdentifierError, normalize_doi, normalize_pmid
from evidence.retractions import severity

# Crossref/PubMed update types -> Citation.Retraction values (articles.models.Retraction).
_UPDATE_STATUS = {
    "retraction": "retracted",
    "partial_retraction": "retracted",
    "withdrawal": "retracted",
    "removal": "retracted",
    "expression_of_concern": "expression-of-concern",
    "correction": "correction",
    "corrigendum": "correction",
    "erratum": "correction",
}


@dataclass(frozen=True)
class RetractionInfo:
    """One editorial update (retraction, correction, concern, ...) linking two works.

    `kind` is the update type as Crossref spells it ("retraction",
    "expression_of_concern", "correction", ...); `notice_doi` is the notice, and
    `updated_doi` the work it updates. PubMed notices may carry a PMID and no DOI.
    """

    kind: str
    date: datetime.date | None = None
    notice_doi: str = ""
    updated_doi: str = ""
    notice_pmid: str = ""
    source: str = ""
    label: str = ""

    @property
    def status(self) -> str:
        """The Citation.Retraction value this update implies, "" if none."""
        return _UPDATE_STATUS.get(self.kind, "")


@dataclass(frozen=True)
class FetchedCitation:
    """A CSL-JSON item as a metadata service describes it, plus its update notices.

    `updated_by`: notices that update this work (a retraction of it, say).
    `update_to`: works that this record updates (it is itself a notice).
    """

    item: dict
    source: str
    url: str
    updated_by: tuple[RetractionInfo, ...] = ()
    update_to: tuple[RetractionInfo, ...] = ()
    fetched_at: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC)
    )

    @property
    def retraction_status(self) -> str:
        """The most severe Citation.Retraction value among `updated_by` ("none" if none)."""
        statuses = [info.status for info in self.updated_by if info.status] or ["none"]
        return max(statuses, key=severity)

    @property
    def retraction_summary(self) -> str:
        """Where the status came from, in words: "retraction 2010-02-06 (notice
        doi:10.1016/..., from Crossref)"; "" when nothing updates the work."""
        service = "Crossref" if self.source == "crossref" else "PubMed"
        parts = []
        relevant = [info for info in self.updated_by if info.status]
        for info in sorted(relevant, key=lambda info: -severity(info.status)):
            words = info.kind.replace("_", " ")
            if info.date:
                words += f" {info.date.isoformat()}"
            if info.notice_doi:
                notice = f"notice doi:{info.notice_doi}, "
            elif info.notice_pmid:
                notice = f"notice PMID {info.notice_pmid}, "
            else:
                notice = ""
            parts.append(f"{words} ({notice}from {service})")
        return "; ".join(parts)

    @property
    def is_notice(self) -> bool:
        """True when the record is itself a retraction, correction or concern notice."""
        return any(info.status for info in self.update_to)


def classify_identifier(value: str) -> tuple[str, str]:
    """("doi", doi) or ("pmid", pmid) for a DOI in any accepted form or a PubMed ID.

    Raises IdentifierError naming the value; no network is used.
    """
    if not isinstance(value, str) or not value.strip():
        raise IdentifierError(f"{value!r} is not a DOI or PMID: enter one, e.g. 10.1001/...")
    text = value.strip()
    try:
        return "doi", normalize_doi(text)
    except IdentifierError as doi_error:
        try:
            return "pmid", normalize_pmid(text)
        except IdentifierError as pmid_error:
            if re.search(r"10\.|doi", text, re.IGNORECASE):
                raise doi_error from None
            if re.search(r"[0-9]", text) and not re.search(r"[/]", text):
                raise pmid_error from None
            raise IdentifierError(
                f"{value!r} is neither a DOI (10.<registrant>/<suffix>, or a doi.org link) "
                "nor a PubMed ID (1-8 digits)"
            ) from None
