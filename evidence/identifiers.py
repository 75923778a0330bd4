"""DOI, PMID and PMCID: validation, normalisation and their canonical URLs.

Text in, text out; no database and no network. A bad identifier raises
IdentifierError with a message an editor can act on.
"""

import re
from urllib.parse import quote, unquote, urlsplit


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
