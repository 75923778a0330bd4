"""Storing a CSL-JSON item in the site's citation library: one Citation per work,
found by DOI, PMID, PMCID or URL before a new one is made, so every article citing the
same work shares its row (and its retraction status).
"""

from __future__ import annotations

import json

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from articles.articlefile import reordering_control_problem
from articles.models import Citation
from evidence import citations

IDENTIFIERS = ("doi", "pmid", "pmcid")


def citations_by_identifier(items: list[dict]) -> dict[tuple[str, str], Citation]:
    """The library citations with any DOI, PMID or PMCID of `items`, by (field, value):
    one query for a whole bibliography. Each identifier is unique in the library (a
    partial unique constraint), so each names at most one citation. Items whose
    identifiers do not parse are left out: `citation_upsert` reports them."""
    wanted = Q(pk__in=[])
    for item in items:
        try:
            identifiers = citations.item_identifiers(item)
        except (citations.BibliographyError, citations.IdentifierError):
            continue
        for name, value in zip(IDENTIFIERS, identifiers, strict=True):
            if value:
                wanted |= Q(**{name: value})
    return {
        (name, getattr(found, name)): found
        for found in Citation.objects.filter(wanted)
        for name in IDENTIFIERS
        if getattr(found, name)
    }


def citation_upsert(
    *, item: dict, library: dict[tuple[str, str], Citation] | None = None, retry: bool = True
) -> tuple[Citation, bool]:
    """Find the library citation for a CSL item (by DOI, PMID, PMCID, then URL) or create it.

    A match keeps the library's curated metadata: importing never silently rewrites a
    citation that other articles rely on. `library`: `citations_by_identifier` of the
    items being imported in this transaction, when the caller looked them up at once (a
    citation created here is added to it).

    Safe against a concurrent insert of the same work (`import_articles --workers`): an
    insert refused by an identifier's unique index looks the library up again and
    returns the citation the other transaction stored.
    """
    doi, pmid, pmcid = citations.item_identifiers(item)
    wanted = {
        name: value for name, value in zip(IDENTIFIERS, (doi, pmid, pmcid), strict=True) if value
    }
    if library is None and wanted:
        library = citations_by_identifier([item])
    matches = {
        name: library[name, value] for name, value in wanted.items() if (name, value) in library
    }
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
        # No unique index can refuse a second copy of such a work: a concurrent import
        # of the same one waits here until this transaction ends, then finds it below.
        _lock_until_commit(f"citation:{url}" if url else f"citation:{item['id']}\n{title}")
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
    try:
        with transaction.atomic():  # a savepoint: a failed insert leaves the import going
            citation.save()
    except IntegrityError:
        # Another transaction (a parallel import) inserted a citation with one of these
        # identifiers after the lookup above, and has committed since (PostgreSQL made
        # this insert wait for it): that is the library's citation now. Once only: if
        # the identifiers still match nothing, the error was something else.
        if not wanted or not retry:
            raise
        found, created = citation_upsert(item=item, retry=False)
        if library is not None:
            library.update(
                ((name, getattr(found, name)), found)
                for name in IDENTIFIERS
                if getattr(found, name)
            )
        return found, created
    if library is not None:
        library.update(dict.fromkeys(wanted.items(), citation))
    return citation, True


def _lock_until_commit(name: str) -> None:
    """A PostgreSQL advisory lock on `name`, held until the transaction ends (no-op
    elsewhere: SQLite has one writer at a time)."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])


def citation_apply_csl(*, citation: Citation, item: dict) -> None:
    problem = reordering_control_problem(json.dumps(item, ensure_ascii=False))
    if problem is not None:
        raise citations.BibliographyError(f"reference {item.get('id')!r}: {problem[0]}")
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
