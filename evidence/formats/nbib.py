"""PubMed's MEDLINE format (.nbib files, and E-utilities efetch replies).

The one MEDLINE reader of the site: `medline_records` splits the text into records of
(tag, value) fields; `read` turns them into CSL items, and
`evidence.fetching.pubmed` reads retraction and correction tags from the same records.
"""

import re

from evidence.formats.common import BibliographyError, date_from_text

_NBIB_LINE = re.compile(r"([A-Z0-9]{2,4}) {0,2}- ?(.*)")


def medline_records(text: str, *, strict: bool = True) -> list[tuple[int, list[list[str]]]]:
    """(first line, [[tag, value], ...]) per record of PubMed's MEDLINE text: "TAG - value"
    lines (tag padded to 4), continuation lines indented by 6 spaces, records separated
    by blank lines or a second PMID. `strict` raises BibliographyError on any other line;
    otherwise such a line is skipped (and ends the field it followed)."""
    records: list[tuple[int, list[list[str]]]] = []
    fields, current = None, None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            fields = current = None
        elif line.startswith("      ") and current is not None:
            current[1] += " " + line.strip()
        elif (match := _NBIB_LINE.fullmatch(line.rstrip())) and len(line) >= 5 and line[4] == "-":
            tag, value = match.group(1), match.group(2).strip()
            if fields is None or (tag == "PMID" and any(t == "PMID" for t, _ in fields)):
                fields = []
                records.append((number, fields))
            current = [tag, value]
            fields.append(current)
        elif strict:
            raise BibliographyError(
                "expected a MEDLINE line 'TAG - value' or a continuation indented by 6 spaces",
                number,
            )
        else:
            current = None
    return records


def read(text: str) -> list[tuple[dict, int | None]]:
    """CSL items from PubMed's MEDLINE export (.nbib)."""
    return [(nbib_item(fields, line), line) for line, fields in medline_records(text)]


def _nbib_name(tag: str, value: str) -> dict:
    if tag == "CN":
        return {"literal": value}
    if tag in ("FAU", "FED"):
        family, _, given = value.partition(",")
    else:  # "AU - Feder A": family, then initials
        family, _, given = value.rpartition(" ")
        family, given = (family, given) if family else (given, "")
    name = {"family": family.strip(), "given": given.strip()}
    return {key: text for key, text in name.items() if text}


def _expand_page_range(page: str) -> str:
    """MEDLINE's "681-8" as "681-688", so pages compare equal across formats."""
    first, dash, last = page.partition("-")
    if dash and first.isdigit() and last.isdigit() and len(last) < len(first):
        full = first[: len(first) - len(last)] + last
        if int(full) > int(first):
            return f"{first}-{full}"
    return page


def nbib_item(fields: list[list[str]], line: int) -> dict:
    values: dict[str, list[str]] = {}
    for tag, value in fields:
        values.setdefault(tag, []).append(value)

    def get(tag: str) -> str:
        return values.get(tag, [""])[0]

    if not get("PMID"):
        raise BibliographyError("PubMed record has no PMID", line)
    item = {"id": get("PMID"), "PMID": get("PMID")}
    title, book = get("TI"), get("BTI")
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1]
    item["type"] = "article-journal" if not book else "chapter" if title else "book"
    for name, value in (
        ("title", title or book),
        ("container-title", get("JT") or get("TA") or (book if title else "")),
        ("container-title-short", get("TA")),
        ("volume", get("VI")),
        ("issue", get("IP")),
        ("page", _expand_page_range(get("PG"))),
        ("publisher", get("PB")),
        ("publisher-place", get("PL") if book else ""),
        ("abstract", get("AB")),
    ):
        if value:
            item[name] = value
    for role, full, short in (("author", "FAU", "AU"), ("editor", "FED", "ED")):
        tag = full if full in values else short
        names = [
            _nbib_name(t, v) for t, v in fields if t == tag or (role == "author" and t == "CN")
        ]
        if names:
            item[role] = names
    if parts := date_from_text(get("DP")) or date_from_text(get("DEP")):
        item["issued"] = {"date-parts": [parts]}
    for value in values.get("AID", []) + values.get("LID", []):
        if value.endswith("[doi]"):
            item["DOI"] = value.removesuffix("[doi]").strip()
            break
    if get("PMC"):
        item["PMCID"] = get("PMC")
    types = [t for t in values.get("PT", []) if not t.startswith("Research Support")]
    if types:
        item["note"] = "Publication type: " + "; ".join(types)
    return item
