"""NLM/Vancouver reference formatting: CSL item in, text or HTML out.

The one import point for citation handling. Reading bibliography files (CSL-JSON,
CSL-YAML, BibTeX/BibLaTeX, RIS, PubMed .nbib) and validating DOI, PMID and PMCID
live in `evidence.formats` and are re-exported here; this module adds the
study-design guess and the NLM/Vancouver reference formatter (Citing Medicine,
2nd ed., as encoded in shared/csl/nlm-citation-sequence.csl).

The formatter is our own rather than citeproc-py: citeproc-py leaves no space after
the reference number, passes about 60 % of the CSL test suite and needs 3-4 s per
1,000 references; we need one style, done exactly, fast enough to render on approval.

No database access here (STYLE.md): services call these functions.
"""

import html
import re

from evidence.formats.common import csl_date
from evidence.identifiers import (
    IdentifierError,
    doi_url,
    http_url,
    identifier_value,
    normalize_doi,
    normalize_pmcid,
    normalize_pmid,
    pmc_url,
    pubmed_url,
)

# --- NLM / Vancouver formatting ------------------------------------------------------

_SERIAL_TYPES = frozenset(
    {
        "article-journal",
        "article-magazine",
        "article-newspaper",
        "periodical",
        "post-weblog",
        "review",
        "review-book",
    }
)
_IN_CONTAINER_TYPES = frozenset(
    {"chapter", "paper-conference", "entry-dictionary", "entry-encyclopedia"}
)
_MONTH_ABBREVIATIONS = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]
_SEASONS = ("Spring", "Summer", "Autumn", "Winter")
# CSL rich text allowed in titles; shown as plain text.
_CSL_MARKUP = re.compile(
    r"</?(?:i|b|sup|sub)>|<span class=\"nocase\">|<span style=\"[^\"<>]*\">|</span>"
)
_INITIAL_SPLIT = re.compile(r"[\s.\-\u2010\u2011]+")


def format_reference_text(item: dict) -> str:
    """One NLM/Vancouver reference as plain text."""
    return _format_reference(item, _PlainText())


def format_reference_html(item: dict) -> str:
    """One NLM/Vancouver reference as HTML: every item value escaped, plus links
    for the DOI, PubMed, PMC and (http/https only) URL."""
    return _format_reference(item, _Html())


class _PlainText:
    """Writes a reference as plain text: links are their text."""

    def text(self, value: str) -> str:
        return value

    def link(self, value: str, href: str) -> str:
        return value

    pubmed_label = "PMID"


class _Html:
    """Writes a reference as HTML: all item text escaped, links as <a href>."""

    def text(self, value: str) -> str:
        return html.escape(value)

    def link(self, value: str, href: str) -> str:
        # A link whose text is its address says so: print does not add the address again.
        shown = ' class="url"' if value == href else ""
        return f'<a href="{html.escape(href)}"{shown}>{html.escape(value)}</a>'

    pubmed_label = "PubMed"


def _clean(value) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return " ".join(_CSL_MARKUP.sub("", str(value)).split())


def _valid_or_empty(normalize, value) -> str:
    if value is None:
        return ""
    try:
        return normalize(value)
    except IdentifierError:
        return ""


def _initials(given: str) -> str:
    if re.fullmatch(r"[A-Z]{1,4}", given):  # already initials, as in PubMed's "Feder A"
        return given
    words = _INITIAL_SPLIT.split(given)
    return "".join(next((c for c in word if c.isalnum()), "") for word in words)


def _name(name) -> str:
    if isinstance(name, str):
        return _clean(name)
    if not isinstance(name, dict):
        return ""
    if literal := _clean(name.get("literal")):
        return literal
    family = " ".join(
        filter(None, (_clean(name.get("non-dropping-particle")), _clean(name.get("family"))))
    )
    if not family:
        return _clean(name.get("given"))
    parts = (
        family,
        _initials(_clean(name.get("given"))),
        _clean(name.get("dropping-particle")),
        _clean(name.get("suffix")),
    )
    return " ".join(filter(None, parts))


def _names(names) -> str:
    """ "Family Initials" comma-separated; more than six: the first six, et al."""
    shown = [text for name in (names if isinstance(names, list) else []) if (text := _name(name))]
    if len(shown) > 6:
        return ", ".join(shown[:6]) + ", et al."
    return ", ".join(shown)


def _editors(item: dict) -> str:
    names = _names(item.get("editor"))
    if not names:
        return ""
    plural = len(item["editor"]) > 1
    return f"{names}, {'editors' if plural else 'editor'}"


def _date_parts(date) -> tuple[list[list[int]], str]:
    """(date-parts ranges, literal text) of a CSL date in any accepted form."""
    if isinstance(date, str | int | dict):
        date = csl_date(date)
        ranges = [[int(p) for p in r] for r in date.get("date-parts", []) if r]
        return ranges, _clean(date.get("literal")) if not ranges else ""
    return [], ""


def _date_text(date, precision: int = 3) -> str:
    """ "2014 Jun 5" (as far as `precision` parts), "2002 Jul-Aug", or the literal date."""
    ranges, literal = _date_parts(date)
    if not ranges:
        return literal

    def one(parts: list[int], with_year: bool = True) -> str:
        words = [str(parts[0])] if with_year else []
        if len(parts) > 1 and precision > 1:
            month = parts[1]
            if 1 <= month <= 12:
                words.append(_MONTH_ABBREVIATIONS[month - 1])
                if len(parts) > 2 and precision > 2:
                    words.append(str(parts[2]))
            elif 13 <= month <= 16 or 21 <= month <= 24:
                words.append(_SEASONS[(month - 1) % 4 if month < 20 else month - 21])
        return " ".join(words)

    text = one(ranges[0])
    if isinstance(date, dict) and date.get("season") and len(ranges[0]) == 1:
        season = date["season"]
        if str(season).isdigit() and 1 <= int(season) <= 4:
            season = _SEASONS[int(season) - 1]
        text += f" {_clean(season)}"
    if len(ranges) > 1 and ranges[1] != ranges[0]:
        same_year = ranges[1][0] == ranges[0][0] and len(ranges[1]) > 1
        text += "-" + one(ranges[1], with_year=not same_year)
    return text


def minimal_page_range(page: str) -> str:
    """NLM page ranges: 681-688 -> 681-8, 1134-1142 -> 1134-42; others unchanged."""
    page = re.sub(r"\s*[-\u2010-\u2015]+\s*", "-", page)

    def shorten(pages: str) -> str:
        first, dash, last = pages.strip().partition("-")
        if not (dash and first.isascii() and first.isdigit() and last.isascii()):
            return pages.strip()
        if not last.isdigit() or len(first) != len(last) or int(last) <= int(first):
            return pages.strip()
        same = next(i for i, (a, b) in enumerate(zip(first, last, strict=True)) if a != b)
        return f"{first}-{last[same:]}"

    return ", ".join(shorten(pages) for pages in page.split(","))


def _sentences(parts: list[str]) -> str:
    """Join parts with ". ", without doubling an ending ".", "?" or "!"."""
    text = ""
    for part in filter(None, parts):
        if not text:
            text = part
        else:
            text += (" " if text[-1] in ".?!" else ". ") + part
    if text and text[-1] not in ".?!":
        text += "."
    return text


def _edition(item: dict) -> str:
    edition = _clean(item.get("edition"))
    if edition.isdigit():
        number = int(edition)
        suffix = (
            "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
        )
        return f"{number}{suffix} ed"
    return edition


def _format_reference(item: dict, out: _PlainText | _Html) -> str:
    """The bibliography layout of nlm-citation-sequence.csl:
    Authors. Title [genre] [Internet]. Container. Place: Publisher; Date;Vol(Issue):pages.
    p. pages. (Series). Report No.: n. Available from: URL doi:10... PMID: n. PMCID: PMCn.
    """
    kind = item.get("type") or ("article-journal" if item.get("container-title") else "document")
    doi = _valid_or_empty(normalize_doi, identifier_value(item, "DOI"))
    pmid = _valid_or_empty(normalize_pmid, identifier_value(item, "PMID"))
    pmcid = _valid_or_empty(normalize_pmcid, identifier_value(item, "PMCID"))
    # A journal article found by DOI/PMID needs no URL; other works show it unless a DOI.
    has_ids = doi or (kind == "article-journal" and (pmid or pmcid))
    url = "" if has_ids else http_url(item.get("URL"))

    reference = _sentences([out.text(part) for part in _reference_parts(item, kind, bool(url))])
    access = []
    if url:
        access.append(out.text("Available from: ") + out.link(url, url))
    if doi:
        access.append(out.link(f"doi:{doi}", doi_url(doi)))
    notes = []
    if pmid:
        notes.append(f"{out.pubmed_label}: " + out.link(pmid, pubmed_url(pmid)) + ".")
    if pmcid:
        notes.append("PMCID: " + out.link(pmcid, pmc_url(pmcid)) + ".")
    tail = " ".join(access) + ("." if access and notes else "")
    return " ".join(filter(None, [reference, tail, *notes]))


def _reference_parts(item: dict, kind: str, online: bool) -> list[str]:
    """The plain-text parts of a reference before its links, to be joined by ". "."""
    serial = kind in _SERIAL_TYPES
    internet = " [Internet]" if online else ""
    title = _clean(item.get("title"))
    genre = _clean(item.get("genre"))
    container = _clean(item.get("container-title"))
    if serial and (short := _clean(item.get("container-title-short"))):
        container = short.replace(".", "")
    # A page of a website is cited under the site's name (Citing Medicine, ch. 25).
    in_site = kind == "webpage" and bool(container)

    names, editors = _names(item.get("author")), _editors(item)
    if not names:
        names, editors = editors, ""
    main = (container if in_site else title) + (f" [{genre}]" if genre else "")
    if in_site or (not container and kind not in _IN_CONTAINER_TYPES):
        main += internet
    parts = [names, main]
    if not container:
        parts.append(_edition(item))
    elif not in_site:
        if kind in _IN_CONTAINER_TYPES:
            container = "In: " + _sentences([editors, container]).removesuffix(".")
        parts.append(_sentences([container + internet, _edition(item)]).removesuffix("."))

    precision = 3 if serial or kind == "webpage" else 2 if kind == "report" else 1
    date = _date_text(item.get("issued"), precision)
    if online and (accessed := _date_text(item.get("accessed"))):
        date = f"{date} [cited {accessed}]".strip()
    page = minimal_page_range(_clean(item.get("page")))
    if serial:
        issue = _clean(item.get("issue"))
        volume = _clean(item.get("volume")) + (f"({issue})" if issue else "")
        # "2014;71(6):681-8"; without volume and issue "2002 Jun:1-6" (Citing Medicine).
        published = ";".join(filter(None, [date, volume]))
        parts.append(":".join(filter(None, [published, page or _clean(item.get("number"))])))
    else:
        publisher = [_clean(item.get("publisher-place")), _clean(item.get("publisher"))]
        parts.append("; ".join(filter(None, [": ".join(filter(None, publisher)), date])))
        if page and kind not in ("book", "report", "thesis", "webpage"):
            parts.append(f"p. {page}")
    if in_site:
        parts.append(title)
    if not serial and (series := _clean(item.get("collection-title"))):
        number = _clean(item.get("collection-number"))
        parts.append(f"({series}; {number})" if number else f"({series})")
    if kind == "report" and (number := _clean(item.get("number"))):
        label = genre[:1].upper() + genre[1:] if genre else "Report"
        numeric = any(char.isdigit() for char in number)
        parts.append(f"{label} No.: {number}" if numeric else f"{label} {number}")
    return parts
