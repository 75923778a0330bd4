"""Reading bibliographies: identifiers, CSL-JSON/YAML, BibTeX, RIS and PubMed files.

Each format of spec/article-format.md becomes a list of CSL-JSON items with a citation
key ("id") and validated, normalised DOI, PMID and PMCID. Errors name the problem
and, where it is known, the line. Import from `articles.citations`, which re-exports
everything public here next to the reference formatter.
"""

import datetime
import json
import re
import warnings
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import bibtexparser
import rispy
import yaml
from bibtexparser.bibdatabase import UndefinedString
from bibtexparser.bparser import BibTexParser
from bibtexparser.latexenc import latex_to_unicode
from rispy.config import TAG_KEY_MAPPING

# --- Identifiers ---------------------------------------------------------------------


class IdentifierError(ValueError):
    """A DOI, PMID or PMCID that is not valid; the message names the value."""


_DOI_PREFIX = re.compile(r"(?:doi:\s*|https?://(?:dx\.|www\.)?doi\.org/)", re.IGNORECASE)
_DOI_REGISTRANT = re.compile(r"10\.[0-9]{4,}(?:\.[0-9]+)*")
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_PMID_PREFIX = re.compile(
    r"(?:pmid:?\s*|https?://(?:pubmed\.ncbi\.nlm\.nih\.gov|(?:www\.)?ncbi\.nlm\.nih\.gov/pubmed)/)",
    re.IGNORECASE,
)
_PMCID_PREFIX = re.compile(
    r"(?:pmcid:?\s*|https?://(?:pmc\.ncbi\.nlm\.nih\.gov/articles/"
    r"|(?:www\.)?ncbi\.nlm\.nih\.gov/pmc/articles/))",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"[0-9]+")
# Characters left as they are in a doi.org URL; the rest (#, ?, %, <, >, ...) are
# percent-encoded so the link resolves to the DOI and nothing else.
_DOI_URL_SAFE = "/:;()!*'+,=@$&-._~"


def normalize_doi(value: str) -> str:
    """Return the DOI in `value` as lowercase "10.<registrant>/<suffix>".

    Accepts a bare DOI, "doi:10..." and doi.org / dx.doi.org URLs.
    """
    if not isinstance(value, str):
        raise IdentifierError(f"{value!r} is not a valid DOI: expected text")
    doi = value.strip()
    prefix = _DOI_PREFIX.match(doi)
    if prefix:
        doi = doi[prefix.end() :]
        if prefix.group().lower().startswith("http"):
            doi = unquote(doi)

    def invalid(problem: str) -> IdentifierError:
        return IdentifierError(f"{value!r} is not a valid DOI: {problem}")

    registrant, slash, suffix = doi.partition("/")
    if not slash or not registrant.startswith("10."):
        raise invalid("expected 10.<registrant>/<suffix>")
    if not _DOI_REGISTRANT.fullmatch(registrant):
        raise invalid(f"registrant {registrant!r} must be '10.' followed by 4 or more digits")
    if not suffix:
        raise invalid("the suffix after '/' is empty")
    if _WHITESPACE_OR_CONTROL.search(doi):
        raise invalid("it contains whitespace or control characters")
    if len(doi) > 300:
        raise invalid(f"it is {len(doi)} characters long (at most 300)")
    return doi.lower()


def normalize_pmid(value: str | int) -> str:
    """Return a PubMed ID as its digits (1-8, no leading zero); accepts "PMID: 123"."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
        if prefix := _PMID_PREFIX.match(text):
            text = text[prefix.end() :].rstrip("/")
    else:
        raise IdentifierError(f"{value!r} is not a valid PMID: expected digits")
    if not _DIGITS.fullmatch(text):
        raise IdentifierError(f"{value!r} is not a valid PMID: expected 1-8 digits")
    if text.startswith("0"):
        raise IdentifierError(f"{value!r} is not a valid PMID: it must not start with 0")
    if len(text) > 8:
        raise IdentifierError(f"{value!r} is not a valid PMID: more than 8 digits")
    return text


def normalize_pmcid(value: str) -> str:
    """Return a PubMed Central ID as "PMC" + digits; accepts "pmc123" and bare digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
        if prefix := _PMCID_PREFIX.match(text):
            text = text[prefix.end() :].rstrip("/")
    else:
        raise IdentifierError(f"{value!r} is not a valid PMCID: expected PMC and digits")
    if text[:3].upper() == "PMC":
        text = text[3:]
    if not _DIGITS.fullmatch(text) or len(text) > 9 or text.startswith("0"):
        raise IdentifierError(
            f"{value!r} is not a valid PMCID: expected PMC and 1-9 digits, not starting with 0"
        )
    return "PMC" + text


def doi_url(doi: str) -> str:
    return "https://doi.org/" + quote(normalize_doi(doi), safe=_DOI_URL_SAFE)


def pubmed_url(pmid: str | int) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{normalize_pmid(pmid)}/"


def pmc_url(pmcid: str) -> str:
    return f"https://pmc.ncbi.nlm.nih.gov/articles/{normalize_pmcid(pmcid)}/"


def http_url(value) -> str:
    """The URL if it is a well-formed http(s) URL, else "" (never shown or linked)."""
    url = value.strip() if isinstance(value, str) else ""
    if not url or _WHITESPACE_OR_CONTROL.search(url):
        return ""
    parts = urlsplit(url)
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def identifier_value(item: dict, name: str):
    """The item's value for a CSL identifier variable; lowercase keys are accepted too."""
    for key in (name, name.lower()):
        value = item.get(key)
        if isinstance(value, str):
            value = value.strip()
        if value not in (None, ""):
            return value
    return None


def item_identifiers(item: dict) -> tuple[str, str, str]:
    """(doi, pmid, pmcid) of a CSL item, normalised, "" when absent."""
    doi, pmid, pmcid = (identifier_value(item, name) for name in ("DOI", "PMID", "PMCID"))
    return (
        normalize_doi(doi) if doi is not None else "",
        normalize_pmid(pmid) if pmid is not None else "",
        normalize_pmcid(pmcid) if pmcid is not None else "",
    )


# --- Reading bibliographies ----------------------------------------------------------


class BibliographyError(ValueError):
    """A bibliography that cannot be read; `line` is 1-based where known."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


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


def parse_bibliography(text: str, fmt: str) -> list[dict]:
    """CSL-JSON items from the text of a bibliography file in format `fmt`.

    Every item has a string "id" (its citation key) and validated, normalised
    "DOI", "PMID" and "PMCID" where known; keys are unique.
    """
    parsers = {
        "csl-json": _parse_csl_json,
        "csl-yaml": _parse_csl_yaml,
        "bibtex": _parse_bibtex,
        "ris": _parse_ris,
        "nbib": _parse_nbib,
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


def _parse_csl_json(text: str) -> list[tuple[dict, int | None]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BibliographyError(f"invalid JSON: {error.msg}", error.lineno) from error
    if not isinstance(data, list):
        raise BibliographyError(f"CSL-JSON must be an array of items, not {type(data).__name__}", 1)
    lines = _json_item_lines(text, len(data))
    return [(_csl_item(value, line), line) for value, line in zip(data, lines, strict=True)]


def _json_item_lines(text: str, count: int) -> list[int]:
    """Line where each element of the (already valid) top-level JSON array starts."""
    decoder, lines = json.JSONDecoder(), []
    position, line = text.index("[") + 1, text.count("\n", 0, text.index("[")) + 1
    skip = re.compile(r"[\s,]*")
    for _ in range(count):
        start = skip.match(text, position).end()
        line += text.count("\n", position, start)
        lines.append(line)
        _, position = decoder.raw_decode(text, start)
        line += text.count("\n", start, position)
    return lines


def _parse_csl_yaml(text: str) -> list[tuple[dict, int | None]]:
    # One pass that keeps the node tree, for the line of each item.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        line = mark.line + 1 if mark else None
        raise BibliographyError(f"invalid YAML: {problem}", line) from error
    finally:
        loader.dispose()
    if data is None:
        return []
    if isinstance(data, dict) and "references" in data:
        data = data["references"] or []
        root = next(v for k, v in root.value if getattr(k, "value", None) == "references")
    if not isinstance(data, list):
        raise BibliographyError(
            "CSL-YAML must be a list of items or a mapping with 'references:'",
            root.start_mark.line + 1,
        )
    lines = [node.start_mark.line + 1 for node in root.value] if data else []
    return [(_csl_item(value, line), line) for value, line in zip(data, lines, strict=True)]


_DATE_VARIABLES = ("issued", "accessed", "original-date", "event-date", "submitted")
_NUMBER_VARIABLES = (
    "volume",
    "issue",
    "page",
    "number",
    "edition",
    "number-of-pages",
    "number-of-volumes",
    "collection-number",
)


def _csl_item(value, line: int | None) -> dict:
    """A CSL item as read from JSON or YAML, with dates as date-parts and numbers as text."""
    if not isinstance(value, dict):
        raise BibliographyError(f"each item must be a mapping, not {type(value).__name__}", line)
    item = _plain(value)
    for name in _DATE_VARIABLES:
        if name in item:
            item[name] = csl_date(item[name])
    for name in _NUMBER_VARIABLES:
        if isinstance(item.get(name), int) and not isinstance(item[name], bool):
            item[name] = str(item[name])
    return item


def _plain(value):
    """JSON-ready copy: YAML dates become ISO text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def csl_date(value) -> dict:
    """Normalise a CSL date (date-parts, raw, EDTF-like text or a year) to date-parts."""
    if isinstance(value, int):
        return {"date-parts": [[value]]}
    if isinstance(value, str):
        parts = date_from_text(value)
        return {"date-parts": [parts]} if parts else {"literal": value}
    if not isinstance(value, dict):
        return {"literal": str(value)}
    date = dict(value)
    ranges = []
    for parts in date.get("date-parts") or []:
        numbers = []
        for part in parts if isinstance(parts, list) else [parts]:
            try:
                numbers.append(int(part))
            except (TypeError, ValueError):
                break
        if numbers:
            ranges.append(numbers)
    if ranges:
        date["date-parts"] = ranges
    else:
        date.pop("date-parts", None)
        if parts := date_from_text(str(date.get("raw", ""))):
            date["date-parts"] = [parts]
    return date


MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_ISO_DATE = re.compile(r"\s*([0-9]{4})(?:[-/.]([0-9]{1,2}))?(?:[-/.]([0-9]{1,2}))?(?![0-9])")
_WORD_DATE = re.compile(r"\s*([0-9]{4})\s+([A-Za-z]{3,9})\.?(?:\s+([0-9]{1,2}))?(?![0-9])")
_COMPACT_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_YEAR = re.compile(r"(?<![0-9])([0-9]{4})(?![0-9])")


def date_from_text(text: str) -> list[int]:
    """[year, month, day] (as far as known) from "2014-06-01", "2014/06//", "2014 Jun 5",
    "20140605"; [] when there is no year."""
    if match := _COMPACT_DATE.fullmatch(text.strip()):
        parts = list(match.groups())
    elif match := _WORD_DATE.match(text):
        parts = [match.group(1), MONTHS.get(match.group(2).lower()), match.group(3)]
    elif match := _ISO_DATE.match(text):
        parts = [match.group(1), match.group(2), match.group(3)]
    elif match := _YEAR.search(text):
        parts = [match.group(1)]
    else:
        return []
    result = [int(parts[0])]
    for value, limit in zip(parts[1:], (12, 31), strict=False):
        if value is None or not 1 <= int(value) <= limit:
            break
        result.append(int(value))
    return result


def dump_csl_json(items: list[dict]) -> str:
    """CSL-JSON text that diffs well: indented, sorted keys, UTF-8, trailing newline."""
    return json.dumps(items, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


# --- BibTeX / BibLaTeX ---------------------------------------------------------------

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


def _parse_bibtex(text: str) -> list[tuple[dict, int | None]]:
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


# --- RIS -----------------------------------------------------------------------------

_RIS_TYPES = {
    "JOUR": "article-journal",
    "JFULL": "article-journal",
    "EJOUR": "article-journal",
    "BOOK": "book",
    "EBOOK": "book",
    "EDBOOK": "book",
    "CHAP": "chapter",
    "ECHAP": "chapter",
    "CONF": "paper-conference",
    "CPAPER": "paper-conference",
    "RPRT": "report",
    "GOVDOC": "report",
    "ELEC": "webpage",
    "WEB": "webpage",
    "THES": "thesis",
    "NEWS": "article-newspaper",
    "MGZN": "article-magazine",
}
_RIS_LIST_TAGS = ["AU", "A1", "A2", "A3", "A4", "ED", "KW", "N1", "UR", "AD"]
# Keep RIS tags as keys: rispy's own tag names, plus the ED and BT tags it lacks.
_RIS_MAPPING = {tag: tag for tag in [*TAG_KEY_MAPPING, "ED", "BT"]}
_RIS_LINE = re.compile(r"([A-Z][A-Z0-9])  -(?: |$)")


def _parse_ris(text: str) -> list[tuple[dict, int | None]]:
    starts, start = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        tag = match.group(1) if (match := _RIS_LINE.match(line)) else None
        if tag == "TY":
            if start is not None:
                raise BibliographyError(
                    f"RIS record starting at line {start} has no 'ER  -' end tag", number
                )
            start = number
        elif tag == "ER":
            if start is None:
                raise BibliographyError("'ER  -' without a 'TY  -' record start", number)
            starts.append(start)
            start = None
        elif start is None and line.strip():
            raise BibliographyError(
                "text outside a RIS record (records start with 'TY  -')", number
            )
    if start is not None:
        raise BibliographyError("RIS record has no 'ER  -' end tag", start)
    records = rispy.loads(
        text.replace("\r\n", "\n"),
        mapping=_RIS_MAPPING,
        list_tags=_RIS_LIST_TAGS,
        delimiter_tags_mapping={},
        skip_unknown_tags=True,
    )
    return [(_ris_item(record, line), line) for record, line in zip(records, starts, strict=True)]


def _ris_names(values) -> list[dict]:
    names = []
    for value in values or []:
        family, _, rest = value.partition(",")
        given, _, suffix = rest.partition(",")
        if not rest.strip():
            names.append({"literal": value.strip()})
            continue
        name = {"family": family.strip(), "given": given.strip(), "suffix": suffix.strip()}
        names.append({key: text for key, text in name.items() if text})
    return names


def _ris_item(record: dict, line: int) -> dict:
    def get(*tags: str) -> str:
        for tag in tags:
            value = record.get(tag)
            value = value[0] if isinstance(value, list) and value else value
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())
        return ""

    ris_type = get("TY").upper()
    kind = _RIS_TYPES.get(ris_type, "article")
    key = get("ID")
    if not key and (doi := get("DO")):
        try:
            key = normalize_doi(doi)
        except IdentifierError as error:
            raise BibliographyError(f"RIS record: {error}", line) from error
    key = key or get("AN")
    if not key:
        raise BibliographyError("RIS record has no usable key: add an ID, DO or AN tag", line)

    item = {"id": key, "type": kind}
    fields = {
        "title": get("TI", "T1") or (get("BT") if kind == "book" else ""),
        "volume": get("VL"),
        "issue": get("IS"),
        "publisher": get("PB"),
        "publisher-place": get("CY"),
        "edition": get("ET"),
        "abstract": get("AB"),
        "language": get("LA"),
        "DOI": get("DO"),
        "note": "\n".join(v.strip() for v in record.get("N1", []) if v.strip()),
    }
    if kind in ("book", "report"):
        fields["collection-title"] = get("T2", "T3")
    else:
        fields["container-title"] = get("T2", "JF", "JO", "BT", "JA", "J2")
        fields["container-title-short"] = get("J2", "JA")
    first, last = get("SP"), get("EP")
    fields["page"] = f"{first}-{last}" if first and last and first != last else first or last
    item.update((name, value) for name, value in fields.items() if value)

    if authors := _ris_names(record.get("AU") or record.get("A1")):
        item["author"] = authors
    if editors := _ris_names(
        record.get("ED") or (record.get("A2") if kind in ("chapter", "paper-conference") else None)
    ):
        item["editor"] = editors
    dates = [date_from_text(get(tag)) for tag in ("DA", "PY", "Y1")]
    if best := max(dates, key=len):
        item["issued"] = {"date-parts": [best]}
    if accessed := date_from_text(get("Y2")):
        item["accessed"] = {"date-parts": [accessed]}
    urls = [url for value in record.get("UR", []) for url in re.split(r"[\s;]+", value)]
    if url := next((url for url in urls if http_url(url)), ""):
        item["URL"] = url
    # EndNote/PubMed exports keep the PMID in AN (with DB/DP naming PubMed) and the PMCID in C2.
    source = f"{get('DB')} {get('DP')}".lower()
    if any(name in source for name in ("pubmed", "medline", "nlm")) and get("AN").isdigit():
        item["PMID"] = get("AN")
    if re.fullmatch(r"PMC[0-9]+", get("C2"), re.IGNORECASE):
        item["PMCID"] = get("C2")
    return item


# --- PubMed / MEDLINE (.nbib) --------------------------------------------------------

_NBIB_LINE = re.compile(r"([A-Z0-9]{2,4}) {0,2}- ?(.*)")


def _parse_nbib(text: str) -> list[tuple[dict, int | None]]:
    """PubMed's MEDLINE export: "TAG - value" lines (tag padded to 4), continuation
    lines indented by 6 spaces, records separated by blank lines."""
    records: list[tuple[int, list[list[str]]]] = []
    fields = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            fields = None
        elif line.startswith("      ") and fields:
            fields[-1][1] += " " + line.strip()
        elif (match := _NBIB_LINE.fullmatch(line.rstrip())) and len(line) >= 5 and line[4] == "-":
            tag, value = match.group(1), match.group(2).strip()
            if fields is None or (tag == "PMID" and any(t == "PMID" for t, _ in fields)):
                fields = []
                records.append((number, fields))
            fields.append([tag, value])
        else:
            raise BibliographyError(
                "expected a MEDLINE line 'TAG - value' or a continuation indented by 6 spaces",
                number,
            )
    return [(_nbib_item(fields, line), line) for line, fields in records]


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


def _nbib_item(fields: list[list[str]], line: int) -> dict:
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
