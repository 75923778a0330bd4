"""Storing a CSL-JSON item in the site's citation library: one Citation per work,
found by DOI, PMID, PMCID or URL before a new one is made, so every article citing the
same work shares its row (and its retraction status).
"""

from __future__ import annotations

from django.db.models import Q

from articles.models import Citation
from evidence import citations


def citation_upsert(*, item: dict) -> tuple[Citation, bool]:
    """Find the library citation for a CSL item (by DOI, PMID, PMCID, then URL) or create it.

    A match keeps the library's curated metadata: importing never silently rewrites a
    citation that other articles rely on.
    """
    doi, pmid, pmcid = citations.item_identifiers(item)
    identifiers = {"doi": doi, "pmid": pmid, "pmcid": pmcid}
    wanted = {name: value for name, value in identifiers.items() if value}
    matches = {}
    if wanted:
        # One query for the three identifiers; each is unique in the library (a partial
        # unique constraint), so each matches at most one row.
        either = Q()
        for name, value in wanted.items():
            either |= Q(**{name: value})
        for found in Citation.objects.filter(either).order_by("pk"):
            for name, value in wanted.items():
                if getattr(found, name) == value:
                    matches.setdefault(name, found)
        matches = {name: matches[name] for name in wanted if name in matches}
    distinct = {c.pk: c for c in matches.values()}
    if len(distinct) > 1:
        described = ", ".join(
            f"{name.upper()} matches citation #{c.pk}" for name, c in matches.items()
        )
        raise citations.BibliographyError(
            f"reference {item['id']!r} points at two different library citations ({described})"
        )
    if distinct:
        return next(iter(distinct.values())), False
    if not (doi or pmid or pmcid):
        # No identifier: the same URL, or the same key and title, is the same work.
        url = item.get("URL") or ""
        title = str(item.get("title") or item.get("container-title") or item["id"])[:2000]
        found = (
            Citation.objects.filter(url=url, doi="", pmid="", pmcid="").first() if url else None
        ) or Citation.objects.filter(key=item["id"], title=title, doi="", pmid="", pmcid="").first()
        if found:
            return found, False
    citation = Citation(key=item["id"])
    citation_apply_csl(citation=citation, item=item)
    # Field validation only: the lookups above showed no library citation has these
    # identifiers (the unique constraints hold), and the identifier-format and choice
    # constraints are the database's own CHECKs on the insert. Validating constraints
    # here would cost eight more queries for every new citation of an import.
    citation.full_clean(exclude=["csl"], validate_constraints=False)
    citation.save()
    return citation, True


def citation_apply_csl(*, citation: Citation, item: dict) -> None:
    doi, pmid, pmcid = citations.item_identifiers(item)
    stored = {k: v for k, v in item.items() if k != "id"}
    citation.csl = stored
    citation.title = str(item.get("title") or item.get("container-title") or item["id"])[:2000]
    citation.year = _issued_year(item)
    citation.doi, citation.pmid, citation.pmcid = doi, pmid, pmcid
    url = item.get("URL") or ""
    citation.url = url if url.startswith(("http://", "https://")) else ""
    citation.study_design = citations.guess_study_design(item)


def _issued_year(item: dict) -> int | None:
    try:
        year = int(item["issued"]["date-parts"][0][0])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return year if 1000 <= year <= 9999 else None
