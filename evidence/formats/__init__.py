"""Reading bibliographies: CSL-JSON, CSL-YAML, BibTeX/BibLaTeX, RIS and PubMed .nbib.

`read_bibliography(text, fmt)` turns each format of spec/article-format.md into a list
of CSL-JSON items with a citation key ("id") and validated, normalised DOI, PMID and
PMCID. Each reader lives in its own module and returns (item, line) pairs; the checks
every format shares (string ids, unique keys, valid identifiers) are applied here once.
Errors name the problem and, where it is known, the line.
"""

from pathlib import Path

from evidence.formats import bibtex, csl, nbib, ris
from evidence.formats.common import BibliographyError, dump_csl_json
from evidence.identifiers import IdentifierError, item_identifiers

__all__ = ["FORMATS", "BibliographyError", "dump_csl_json", "format_for_path", "read_bibliography"]

FORMATS = {
    ".json": "csl-json",
    ".yaml": "csl-yaml",
    ".yml": "csl-yaml",
    ".bib": "bibtex",
    ".ris": "ris",
    ".nbib": "nbib",
}


def format_for_path(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        known = ", ".join(FORMATS)
        raise BibliographyError(
            f"{str(path)!r} has no known bibliography extension: expected one of {known}"
        ) from None


def read_bibliography(text: str, fmt: str) -> list[dict]:
    """CSL-JSON items from the text of a bibliography file in format `fmt`.

    Every item has a string "id" (its citation key) and validated, normalised
    "DOI", "PMID" and "PMCID" where known; keys are unique.
    """
    parsers = {
        "csl-json": csl.read_json,
        "csl-yaml": csl.read_yaml,
        "bibtex": bibtex.read,
        "ris": ris.read,
        "nbib": nbib.read,
    }
    if fmt not in parsers:
        raise BibliographyError(
            f"unknown bibliography format {fmt!r}: expected one of {', '.join(parsers)}"
        )
    return _checked_items(parsers[fmt](text.removeprefix("\ufeff")))


def _checked_items(records: list[tuple[dict, int | None]]) -> list[dict]:
    """Enforce string ids, unique keys and valid identifiers on (item, line) pairs."""
    items, first_line = [], {}
    for item, line in records:
        key = item.get("id")
        if isinstance(key, int) and not isinstance(key, bool):
            key = str(key)
        if key is None or (isinstance(key, str) and not key.strip()):
            raise BibliographyError("item has no id (citation key)", line)
        if not isinstance(key, str):
            raise BibliographyError(f"item id must be text, not {key!r}", line)
        key = key.strip()
        if key in first_line:
            where = f" (first at line {first_line[key]})" if first_line[key] else ""
            raise BibliographyError(f"duplicate citation key {key!r}{where}", line)
        first_line[key] = line
        try:
            identifiers = item_identifiers(item)
        except IdentifierError as error:
            raise BibliographyError(f"item {key!r}: {error}", line) from error
        item["id"] = key
        for name, value in zip(("DOI", "PMID", "PMCID"), identifiers, strict=True):
            item.pop(name.lower(), None)
            if value:
                item[name] = value
            else:
                item.pop(name, None)
        items.append(item)
    return items
