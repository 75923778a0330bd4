"""BibTeX and BibLaTeX bibliographies, read with bibtexparser."""

import re
import warnings

import bibtexparser
from bibtexparser.bibdatabase import UndefinedString
from bibtexparser.bparser import BibTexParser
from bibtexparser.latexenc import latex_to_unicode

from evidence.formats.common import MONTHS, BibliographyError, date_from_text

_BIBTEX_TYPES = {
    "article": "article-journal",
    "book": "book",
    "mvbook": "book",
    "manual": "book",
    "proceedings": "book",
    "booklet": "pamphlet",
    "inbook": "chapter",
    "incollection": "chapter",
    "inproceedings": "paper-conference",
    "conference": "paper-conference",
    "techreport": "report",
    "report": "report",
    "online": "webpage",
    "electronic": "webpage",
    "www": "webpage",
    "phdthesis": "thesis",
    "mastersthesis": "thesis",
    "thesis": "thesis",
    "unpublished": "manuscript",
    "dataset": "dataset",
    "software": "software",
}
_BIBTEX_ENTRY = re.compile(r"^[ \t]*@[ \t]*([A-Za-z]+)[ \t]*[{(][ \t]*([^,\s{}()]*)", re.MULTILINE)
# Formatting commands that bibtexparser's latex_to_unicode would mangle: keep the text.
_LATEX_WRAPPERS = re.compile(
    r"\\(?:emph|textit|textbf|textsc|textrm|textsf|texttt|textup|textnormal|textsuperscript"
    r"|textsubscript|mkbibquote|enquote|mkbibemph|url|mbox|NoCaseChange)\s*(?=\{)"
)
_LATEX_WORDS = {
    r"\ldots": "\u2026",
    r"\dots": "\u2026",
    r"\textquoteright": "\u2019",
    r"\textquoteleft": "\u2018",
    "---": "\u2014",
    "--": "\u2013",
    "~": " ",
    r"\,": " ",
}
_LATEX_WORD = re.compile("|".join(re.escape(word) for word in _LATEX_WORDS))


def _latex(value: str) -> str:
    """Unicode text of a BibTeX value: LaTeX accents converted, {protective} braces gone."""
    if not value:
        return ""
    value = _LATEX_WRAPPERS.sub("", value)
    value = _LATEX_WORD.sub(lambda m: _LATEX_WORDS[m.group()], value)
    return " ".join(latex_to_unicode(value).replace("{", "").replace("}", "").split())


def _verbatim(value: str) -> str:
    """A BibTeX value that is not prose (DOI, URL, PMID): braces and escapes removed."""
    return re.sub(r"\\([_%&#$])", r"\1", value.replace("{", "").replace("}", "")).strip()


def _split_top_level(text: str, separator: re.Pattern) -> list[str]:
    """Split where `separator` matches outside braces."""
    parts, depth, start, position = [], 0, 0, 0
    while position < len(text):
        char = text[position]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0 and (match := separator.match(text, position)) and match.end() > position:
            parts.append(text[start:position])
            start = position = match.end()
            continue
        position += 1
    parts.append(text[start:])
    return parts


_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_COMMA = re.compile(r"\s*,\s*")
_SPACE = re.compile(r"\s+")


def _bibtex_names(value: str) -> list[dict]:
    """CSL names from "Family, Given and Given Family and {Corporate Name}"."""
    names = [_bibtex_name(raw.strip()) for raw in _split_top_level(value.strip(), _AND)]
    return [name for name in names if name]


_NAME_PART = re.compile(r"(family|given|prefix|suffix|useprefix)\s*=\s*(.*)", re.S)


def _bibtex_name(raw: str) -> dict:
    if not raw or raw.lower() == "others":
        return {}
    if raw.startswith("{") and raw.endswith("}") and len(_split_top_level(raw, _SPACE)) == 1:
        return {"literal": _latex(raw)}
    pieces = _split_top_level(raw, _COMMA)
    labelled = [_NAME_PART.fullmatch(piece) for piece in pieces]
    if all(labelled):  # BibLaTeX's "family=Silva, given=Ursula, prefix=da, useprefix=true"
        parts = {match.group(1): match.group(2) for match in labelled}
        family = " ".join(filter(None, [parts.get("prefix"), parts.get("family", "")]))
        given, suffix = parts.get("given", ""), parts.get("suffix", "")
    elif len(pieces) == 1:  # "Given von Family": the family starts at the first lowercase word
        words = _split_top_level(raw, _SPACE)
        start = next(
            (i for i, word in enumerate(words[:-1]) if i and word[:1].islower()), len(words) - 1
        )
        family, given, suffix = " ".join(words[start:]), " ".join(words[:start]), ""
    elif len(pieces) == 2:
        (family, given), suffix = pieces, ""
    else:  # "Family, Jr, Given"
        family, suffix, given = pieces[0], pieces[1], ", ".join(pieces[2:])
    name = {"family": _latex(family), "given": _latex(given), "suffix": _latex(suffix)}
    return {key: text for key, text in name.items() if text}


def read(text: str) -> list[tuple[dict, int | None]]:
    starts = [
        (match.group(2), text.count("\n", 0, match.start()) + 1)
        for match in _BIBTEX_ENTRY.finditer(text)
        if match.group(1).lower() not in ("comment", "string", "preamble")
    ]
    for key, line in starts:
        if not key:
            raise BibliographyError("BibTeX entry has no citation key", line)
    try:
        with warnings.catch_warnings():
            # bibtexparser 1.4 still calls pyparsing's deprecated camelCase API.
            warnings.simplefilter("ignore", DeprecationWarning)
            parser = BibTexParser(common_strings=True, ignore_nonstandard_types=False)
            entries = bibtexparser.loads(text, parser=parser).entries
    except UndefinedString as error:
        name = error.args[0]
        used = re.search(rf"=\s*{re.escape(name)}\b", text)
        raise BibliographyError(
            f"undefined BibTeX string {name!r}: define it with @string or put the value in braces",
            text.count("\n", 0, used.start()) + 1 if used else None,
        ) from error
    except Exception as error:  # bibtexparser's own parse errors have no common base class
        raise BibliographyError(f"unparseable BibTeX: {error}") from error
    parsed = {}
    for entry in entries:
        parsed[entry["ID"]] = parsed.get(entry["ID"], 0) + 1
    lines: dict[str, list[int]] = {}
    for key, line in starts:
        if parsed.get(key, 0) <= len(lines.get(key, [])):
            raise BibliographyError(
                f"unparseable BibTeX entry {key!r}: check its braces, quotes and commas", line
            )
        lines.setdefault(key, []).append(line)
    records = []
    for entry in entries:
        key_lines = lines.get(entry["ID"], [])
        line = key_lines.pop(0) if key_lines else None
        records.append((_bibtex_item(entry), line))
    return records


def _bibtex_item(entry: dict) -> dict:
    fields = {key.lower(): value for key, value in entry.items()}
    kind = fields["entrytype"].lower()
    csl_type = _BIBTEX_TYPES.get(kind, "document")
    if kind == "misc" and fields.get("url") and not fields.get("journal"):
        csl_type = "webpage"
    item = {"id": fields["id"], "type": csl_type}

    def put(name: str, *sources: str) -> None:
        for source in sources:
            if value := _latex(fields.get(source, "")):
                item[name] = value
                return

    put("title", "title")
    if csl_type in ("chapter", "paper-conference"):
        put("container-title", "booktitle", "maintitle")
    else:
        put("container-title", "journaltitle", "journal")
    put("container-title-short", "shortjournal", "journal-abbreviation", "journalabbrev")
    put("volume", "volume")
    put("issue" if csl_type == "article-journal" else "number", "number")
    put("issue", "issue")
    put("publisher", "publisher", "institution", "school", "organization")
    put("publisher-place", "location", "address")
    put("edition", "edition")
    put("collection-title", "series")
    put("genre", "type")
    if kind == "phdthesis" and "genre" not in item:
        item["genre"] = "dissertation"
    elif kind == "mastersthesis" and "genre" not in item:
        item["genre"] = "master's thesis"
    put("ISBN", "isbn")
    put("ISSN", "issn")
    put("language", "langid", "language")
    put("note", "note")
    put("abstract", "abstract")
    if pages := _latex(fields.get("pages", "")):
        item["page"] = re.sub(r"\s*[-\u2010-\u2015]+\s*", "-", pages)
    for role in ("author", "editor"):
        if fields.get(role):
            item[role] = _bibtex_names(fields[role])
    if parts := _bibtex_date(fields):
        item["issued"] = {"date-parts": [parts]}
    if parts := date_from_text(fields.get("urldate", "")):
        item["accessed"] = {"date-parts": [parts]}
    for name in ("doi", "pmid", "pmcid", "url"):
        if fields.get(name):
            item[name.upper()] = _verbatim(fields[name])
    eprint_type = fields.get("eprinttype", fields.get("archiveprefix", "")).lower()
    if fields.get("eprint") and eprint_type in ("pubmed", "pmid", "pmc", "pmcid"):
        item.setdefault("PMCID" if eprint_type.startswith("pmc") else "PMID", fields["eprint"])
    return item


def _bibtex_date(fields: dict) -> list[int]:
    if fields.get("date"):
        return date_from_text(fields["date"])
    parts = date_from_text(fields.get("year", ""))[:1]
    month = _latex(fields.get("month", "")).lower().rstrip(".")
    month_number = int(month) if month.isdigit() else MONTHS.get(month[:3], 0)
    if parts and 1 <= month_number <= 12:
        parts.append(month_number)
    return parts
