"""Crossref's REST API work records -> CSL-JSON items and update notices."""

from __future__ import annotations

import datetime
import re
from urllib.parse import quote

from evidence.fetching.records import RetractionInfo
from evidence.identifiers import IdentifierError, normalize_doi, normalize_pmid
from evidence.text import plain_text

_CROSSREF_TYPES = {
    "journal-article": "article-journal",
    "book-chapter": "chapter",
    "book-section": "chapter",
    "book-part": "chapter",
    "proceedings-article": "paper-conference",
    "book": "book",
    "monograph": "book",
    "edited-book": "book",
    "reference-book": "book",
    "book-set": "book",
    "report": "report",
    "report-component": "report",
    "dissertation": "thesis",
    "posted-content": "article",
    "dataset": "dataset",
    "standard": "standard",
    "reference-entry": "entry",
    "peer-review": "review",
}


def _text(value) -> str:
    """Crossref text: the first of a list, tags (JATS, HTML) dropped, entities decoded."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), "")
    if not isinstance(value, str):
        return "" if value is None or isinstance(value, dict) else str(value)
    return plain_text(value)


def _crossref_names(people) -> list[dict]:
    names = []
    for person in people if isinstance(people, list) else []:
        if not isinstance(person, dict):
            continue
        name = {
            key: _text(person.get(source))
            for key, source in (("family", "family"), ("given", "given"), ("suffix", "suffix"))
        }
        name = {key: value for key, value in name.items() if value}
        if not name.get("family") and (literal := _text(person.get("name"))):
            name = {"literal": literal}
        if name:
            names.append(name)
    return names


def _crossref_date(message: dict) -> dict | None:
    for source in ("issued", "published-print", "published-online", "published"):
        parts = _date_parts(message.get(source))
        if parts:
            return {"date-parts": [parts]}
    return None


def _date_parts(value) -> list[int]:
    try:
        raw = value["date-parts"][0]
    except (KeyError, IndexError, TypeError):
        return []
    parts = []
    for part in raw if isinstance(raw, list) else []:
        if isinstance(part, bool) or not isinstance(part, int | str):
            break
        try:
            parts.append(int(part))
        except ValueError:
            break
    if not parts or not 1000 <= parts[0] <= 9999:
        return []
    return parts[:3]


def crossref_to_csl(message: dict) -> dict:
    """A CSL-JSON item from a Crossref `/works/{doi}` message.

    Raises IdentifierError if the record's DOI (or PMID, where given) is not valid.
    """
    doi = normalize_doi(_text(message.get("DOI")))
    item: dict = {"id": doi, "type": _CROSSREF_TYPES.get(_text(message.get("type")), "article")}
    title, subtitle = _text(message.get("title")), _text(message.get("subtitle"))
    if subtitle and subtitle.lower() not in title.lower():
        title = f"{title}: {subtitle}" if title else subtitle
    fields = {
        "title": title,
        "container-title": _text(message.get("container-title")),
        "container-title-short": _text(message.get("short-container-title")),
        "volume": _text(message.get("volume")),
        "issue": _text(message.get("issue")),
        "page": _text(message.get("page")),
        "number": "" if message.get("page") else _text(message.get("article-number")),
        "publisher": _text(message.get("publisher")),
        "ISSN": _text(message.get("ISSN")),
    }
    item.update((name, value) for name, value in fields.items() if value)
    for role in ("author", "editor"):
        if names := _crossref_names(message.get(role)):
            item[role] = names
    if issued := _crossref_date(message):
        item["issued"] = issued
    item["DOI"] = doi
    url = _text(message.get("URL"))
    item["URL"] = url if url.startswith("https://") else f"https://doi.org/{quote(doi, safe='/')}"
    # Crossref rarely knows the PMID; some records (and mirrors) carry one.
    pmid = next((message[key] for key in ("PMID", "pmid") if message.get(key)), None)
    if pmid is not None:
        item["PMID"] = normalize_pmid(_text(pmid))
    return item


def _update_date(value) -> datetime.date | None:
    parts = _date_parts(value)
    if not parts:
        return None
    try:
        return datetime.date(*[*parts, 1, 1][:3])
    except ValueError:
        return None


def crossref_updates(
    message: dict, doi: str
) -> tuple[tuple[RetractionInfo, ...], tuple[RetractionInfo, ...]]:
    """(updated_by, update_to) from a Crossref message; entries without a valid DOI
    are kept when they still say what kind of update it is."""

    def infos(entries, *, this_is_the_notice: bool) -> tuple[RetractionInfo, ...]:
        found = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            kind = re.sub(r"[\s-]+", "_", _text(entry.get("type")).lower())
            if not kind:
                continue
            try:
                other = normalize_doi(_text(entry.get("DOI")))
            except IdentifierError:
                other = ""
            info = RetractionInfo(
                kind=kind,
                date=_update_date(entry.get("updated")),
                notice_doi=doi if this_is_the_notice else other,
                updated_doi=other if this_is_the_notice else doi,
                source=_text(entry.get("source")),
                label=_text(entry.get("label")),
            )
            if info not in found:
                found.append(info)
        return tuple(found)

    return (
        infos(message.get("updated-by"), this_is_the_notice=False),
        infos(message.get("update-to"), this_is_the_notice=True),
    )
