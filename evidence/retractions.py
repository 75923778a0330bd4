"""Retraction notices from their sources: text in, data out (no database).

Reads the Retraction Watch database in the CSV form Crossref distributes (columns
`Record ID`, `Title`, ..., `RetractionDate`, `RetractionDOI`, `OriginalPaperDOI`,
`OriginalPaperPubMedID`, `RetractionNature`, `Reason`, ...), turns Crossref/PubMed
update notices (`evidence.fetching.RetractionInfo`) into the same records, and works
out what a work's notices add up to. `editorial.services.integrity` applies the result.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from evidence import identifiers

# The values of articles.models.Retraction, mildest first, plus a reinstatement.
NONE = "none"
CORRECTION = "correction"
CONCERN = "expression-of-concern"
RETRACTED = "retracted"
REINSTATED = "reinstated"
SEVERITY = (NONE, CORRECTION, CONCERN, RETRACTED)

RW_NATURES = {
    "retraction": RETRACTED,
    "expression of concern": CONCERN,
    "correction": CORRECTION,
    "reinstatement": REINSTATED,
}
RW_IDENTIFIER_COLUMNS = ("OriginalPaperDOI", "OriginalPaperPubMedID")
_RW_DATE_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S")
_NO_VALUE = {"", "0", "unavailable", "none", "n/a", "na"}


def severity(status: str) -> int:
    return SEVERITY.index(status) if status in SEVERITY else 0


@dataclass(frozen=True)
class RetractionRecord:
    """One notice about a work, from Retraction Watch, Crossref or PubMed."""

    status: str  # one of SEVERITY, or REINSTATED
    source: str
    nature: str = ""
    record_id: str = ""
    date: date | None = None
    notice_doi: str = ""
    reason: str = ""

    def describe(self) -> str:
        """e.g. "Retraction Watch record 51234: Retraction on 2023-05-01 (notice
        doi:10.1/x); reason: Falsification/Fabrication of Data"."""
        text = self.source + (f" record {self.record_id}" if self.record_id else "")
        text += f": {self.nature or self.status}"
        if self.date:
            text += f" on {self.date.isoformat()}"
        if self.notice_doi:
            text += f" (notice doi:{self.notice_doi})"
        if self.reason:
            text += f"; reason: {self.reason}"
        return text


def retraction_outcome(records: Iterable[RetractionRecord]) -> tuple[str, RetractionRecord | None]:
    """What a work's notices add up to, read oldest first: the most severe so far, reset
    by a reinstatement (a correction after a retraction does not undo it).

    Returns (status, the record that decided it); (NONE, None) for no notices.
    """
    status, decisive = NONE, None
    for record in sorted(records, key=lambda r: r.date or date.min):
        if record.status == REINSTATED:
            status, decisive = REINSTATED, record
        elif record.status in SEVERITY[1:] and (
            status == REINSTATED or severity(record.status) >= severity(status)
        ):
            status, decisive = record.status, record
    return status, decisive


def records_from_updates(updates: Iterable, *, source: str) -> list[RetractionRecord]:
    """RetractionRecords from `evidence.fetching.RetractionInfo` notices (Crossref's
    `updated-by`, PubMed's RIN/ECI/EIN tags); kinds that say nothing about a work's
    standing (new versions, addenda) are dropped."""
    records = []
    for info in updates:
        kind = getattr(info, "kind", "")
        status = REINSTATED if kind == "reinstatement" else getattr(info, "status", "")
        if status not in (*SEVERITY[1:], REINSTATED):
            continue
        records.append(
            RetractionRecord(
                status=status,
                source=source,
                nature=getattr(info, "label", "") or kind.replace("_", " ").capitalize(),
                date=getattr(info, "date", None),
                notice_doi=getattr(info, "notice_doi", ""),
            )
        )
    return records


# --- the Retraction Watch CSV ---------------------------------------------------------------


class RetractionFileError(ValueError):
    """A Retraction Watch file that cannot be read; the message names file and problem."""


def _date(value: str) -> date | None:
    value = (value or "").strip()
    for fmt in _RW_DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def _reason(value: str) -> str:
    """ "+Falsification of Data;+Investigation by Journal;" -> "Falsification of Data;
    Investigation by Journal"."""
    reasons = [part.strip().lstrip("+").strip() for part in (value or "").split(";")]
    return "; ".join(r for r in reasons if r)[:500]


def _identifier(value: str, normalize) -> str:
    value = (value or "").strip()
    if value.lower() in _NO_VALUE:
        return ""
    try:
        return normalize(value)
    except identifiers.IdentifierError:
        return ""


def retraction_watch_records(
    path: str | Path,
    *,
    dois: set[str],
    pmids: set[str],
    progress: Callable[[str, int, int | None], None] | None = None,
) -> tuple[dict[tuple[str, str], list[RetractionRecord]], int]:
    """The notices in a Retraction Watch CSV about the given (normalised) DOIs and PMIDs.

    Returns ({("doi" | "pmid", value): records}, number of rows read). The file is
    streamed, so the full database (some 60,000 rows) costs little memory. Raises
    RetractionFileError for an unreadable file or one without the expected columns.
    """
    path = Path(path)
    try:
        raw = path.open("rb")
        size = max(path.stat().st_size, 1)
    except OSError as exc:
        raise RetractionFileError(f"{path}: cannot read the file: {exc.strerror}") from exc
    found: dict[tuple[str, str], list[RetractionRecord]] = defaultdict(list)
    rows = 0
    with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="") as text:
        reader = csv.DictReader(text)
        try:
            header = [name.strip() for name in reader.fieldnames or []]
        except csv.Error as exc:
            raise RetractionFileError(f"{path}:1: {exc}") from exc
        reader.fieldnames = header
        missing = [] if "RetractionNature" in header else ["RetractionNature"]
        if not any(column in header for column in RW_IDENTIFIER_COLUMNS):
            missing.append(" or ".join(RW_IDENTIFIER_COLUMNS))
        if missing:
            raise RetractionFileError(
                f"{path}:1: not a Retraction Watch CSV: no {', '.join(missing)} column "
                f"(the header has: {', '.join(header[:8]) or 'nothing'})"
            )
        try:
            for row in reader:
                rows += 1
                if progress and rows % 2000 == 0:
                    progress("Reading Retraction Watch data", raw.tell(), size)
                status = RW_NATURES.get((row.get("RetractionNature") or "").strip().lower())
                if status is None:
                    continue
                doi = _identifier(row.get("OriginalPaperDOI"), identifiers.normalize_doi)
                pmid = _identifier(row.get("OriginalPaperPubMedID"), identifiers.normalize_pmid)
                matches = [("doi", doi)] if doi in dois else []
                matches += [("pmid", pmid)] if pmid in pmids else []
                if not matches:
                    continue
                record = RetractionRecord(
                    status=status,
                    source="Retraction Watch",
                    nature=(row.get("RetractionNature") or "").strip(),
                    record_id=(row.get("Record ID") or "").strip(),
                    date=_date(row.get("RetractionDate")),
                    notice_doi=_identifier(row.get("RetractionDOI"), identifiers.normalize_doi),
                    reason=_reason(row.get("Reason")),
                )
                for match in matches:
                    found[match].append(record)
        except csv.Error as exc:
            raise RetractionFileError(f"{path}:{reader.line_num}: {exc}") from exc
    if progress:
        progress("Reading Retraction Watch data", size, size)
    return dict(found), rows
