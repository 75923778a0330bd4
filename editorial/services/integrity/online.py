"""Update notices from Crossref and PubMed, through the allow-listed client."""

from __future__ import annotations

from dataclasses import dataclass, field

from articles.models import (
    Citation,
)
from editorial.services.integrity.common import (
    Progress,
    _no_progress,
)
from evidence import fetching, retractions
from evidence.retractions import RetractionRecord

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
