"""PubMed's comment and correction tags (RIN, ECI, EIN, ROF, ...) -> update notices,
read from the MEDLINE records of `evidence.formats.nbib`."""

from __future__ import annotations

import re

from evidence.fetching.records import RetractionInfo
from evidence.formats.nbib import medline_records
from evidence.identifiers import IdentifierError, normalize_doi

# MEDLINE "comments and corrections" tags: this record is updated by a notice ...
_MEDLINE_UPDATED_BY = {
    "RIN": "retraction",  # Retraction in
    "ECI": "expression_of_concern",  # Expression of concern in
    "EIN": "erratum",  # Erratum in
}
# ... or this record is itself the notice for another.
_MEDLINE_UPDATE_TO = {
    "ROF": "retraction",  # Retraction of
    "ECF": "expression_of_concern",  # Expression of concern for
    "EFR": "erratum",  # Erratum for
}
_NOTICE_DOI = re.compile(r"doi:\s*(10\.\S+?)\.?(?:\s|$)", re.IGNORECASE)
_NOTICE_PMID = re.compile(r"PMID:\s*([1-9][0-9]{0,7})")


def medline_updates(
    text: str, *, pmid: str, doi: str = ""
) -> tuple[tuple[RetractionInfo, ...], tuple[RetractionInfo, ...]]:
    """(updated_by, update_to) from the MEDLINE record for `pmid` in `text`.

    PubMed links notices with tags such as "RIN - Lancet. 2010;375:445. doi: ... PMID: ...";
    a "PT - Retracted Publication" without a RIN line still counts as a retraction.
    """
    fields = next(
        (
            fields
            for _, fields in medline_records(text, strict=False)
            if any(tag == "PMID" and value == pmid for tag, value in fields)
        ),
        [],
    )

    updated_by, update_to = [], []
    for tag, value in fields:
        notice_doi = _doi_or_empty(_NOTICE_DOI.search(value))
        found_pmid = _NOTICE_PMID.search(value)
        notice_pmid = found_pmid.group(1) if found_pmid else ""
        if tag in _MEDLINE_UPDATED_BY:
            updated_by.append(
                RetractionInfo(
                    kind=_MEDLINE_UPDATED_BY[tag],
                    notice_doi=notice_doi,
                    notice_pmid=notice_pmid,
                    updated_doi=doi,
                    source="pubmed",
                    label=value[:300],
                )
            )
        elif tag in _MEDLINE_UPDATE_TO:
            update_to.append(
                RetractionInfo(
                    kind=_MEDLINE_UPDATE_TO[tag],
                    notice_doi=doi,
                    notice_pmid=pmid,
                    updated_doi=notice_doi,
                    source="pubmed",
                    label=value[:300],
                )
            )
    retracted_type = any(t == "PT" and v.lower() == "retracted publication" for t, v in fields)
    if retracted_type and not any(info.kind == "retraction" for info in updated_by):
        updated_by.append(
            RetractionInfo(
                kind="retraction", updated_doi=doi, source="pubmed", label="Retracted Publication"
            )
        )
    return tuple(updated_by), tuple(update_to)


def _doi_or_empty(match) -> str:
    if not match:
        return ""
    try:
        return normalize_doi(match.group(1))
    except IdentifierError:
        return ""
