"""The citation library: adding works by paste or by identifier, and where each is used.

Rules enforced here:
- one work, one citation: a DOI, PMID or PMCID already in the library is refused with
  DuplicateCitationError naming the existing record (an item with none of these is
  refused when its URL is already there);
- identifiers are validated and normalised before anything is stored; a bad one
  raises IdentifierError naming the value;
- a library key is never shared by two citations: a taken key gets a letter suffix
  (feder2014 -> feder2014b), because Markdown resolves library keys by name;
- adding by DOI or PMID refuses a duplicate before any network request, fetches only
  through `evidence.fetching.MetadataClient`, and records the retraction status the
  metadata service reports.

Pasted bibliographies are added item by item (see `citations_add_from_text`).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from articles.models import ArticleCitation, Citation, ClaimCitation
from articles.rendering import CITATION_KEY_RE
from articles.services.citations import citation_apply_csl
from evidence import citations
from evidence.citations import BibliographyError, IdentifierError
from evidence.fetching import FetchedCitation, FetchError, MetadataClient, classify_identifier

logger = logging.getLogger(__name__)

__all__ = [
    "EXPECTED_ERRORS",
    "AddResult",
    "AddedItem",
    "CitationUsage",
    "DuplicateCitationError",
    "citation_add",
    "citation_add_by_identifier",
    "citation_find_duplicate",
    "citation_usage",
    "citations_add_from_text",
    "detect_format",
    "report_rows",
    "suggest_key",
]

# Bounds on one paste, so a huge or hostile paste is refused, not processed.
MAX_PASTE_CHARS = 2_000_000
MAX_PASTE_ITEMS = 500
FORMAT_LABELS = {
    "bibtex": "BibTeX",
    "ris": "RIS",
    "csl-json": "CSL-JSON",
    "csl-yaml": "CSL-YAML",
    "nbib": "PubMed (.nbib)",
}


class DuplicateCitationError(Exception):
    """The work is already in the library; `.existing` is that Citation."""

    def __init__(self, *, existing: Citation, identifier: str):
        self.existing = existing
        self.identifier = identifier
        super().__init__(
            f"{identifier} is already in the library as citation #{existing.pk} "
            f"“{existing}” (key {existing.key}); nothing was added."
        )


# What a caller (admin view, command) shows as a message rather than a server error.
EXPECTED_ERRORS = (BibliographyError, IdentifierError, FetchError, ValidationError)


# --- finding duplicates ------------------------------------------------------------------


def citation_find_duplicate(
    *, doi: str = "", pmid: str = "", pmcid: str = "", url: str = ""
) -> tuple[Citation, str] | None:
    """(existing citation, "DOI 10...") for the first identifier already in the library.

    Identifiers must be normalised. The URL counts only when there is no identifier.
    """
    for field_name, label, value in (
        ("doi", "DOI", doi),
        ("pmid", "PMID", pmid),
        ("pmcid", "PMCID", pmcid),
    ):
        if value:
            found = Citation.objects.filter(**{field_name: value}).first()
            if found:
                return found, f"{label} {value}"
    if url and not (doi or pmid or pmcid):
        found = Citation.objects.filter(url=url, doi="", pmid="", pmcid="").first()
        if found:
            return found, f"URL {url}"
    return None


# --- keys --------------------------------------------------------------------------------


def suggest_key(item: dict) -> str:
    """An author-year key ("feder2014") from a CSL item, ASCII letters and digits only."""
    authors = item.get("author") or item.get("editor") or []
    first = authors[0] if isinstance(authors, list) and authors else {}
    name = ""
    if isinstance(first, dict):
        name = str(first.get("family") or first.get("literal") or "")
        if not first.get("family"):
            name = name.split()[0] if name.split() else ""
    if not name:
        name = str(item.get("title") or "").split()[0] if str(item.get("title") or "") else ""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9]", "", ascii_name.lower())[:40] or "ref"
    try:
        year = int(item["issued"]["date-parts"][0][0])
    except (KeyError, IndexError, TypeError, ValueError):
        year = None
    return f"{stem}{year}" if year else stem


def _free_key(key: str) -> str:
    """`key`, or key + b, c, ... (then -2, -3, ...) when another citation has it."""
    taken = set(Citation.objects.filter(key__startswith=key).values_list("key", flat=True))
    if key not in taken:
        return key
    for letter in "bcdefghijklmnopqrstuvwxyz":
        if key + letter not in taken:
            return key + letter
    number = 2
    while f"{key}-{number}" in taken:
        number += 1
    return f"{key}-{number}"


def _is_usable_key(value) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 200
        and CITATION_KEY_RE.fullmatch(value) is not None
    )


# --- adding one item ---------------------------------------------------------------------


@transaction.atomic
def citation_add(*, item: dict, user=None) -> Citation:
    """Add one CSL-JSON item to the library.

    Refuses a work already there (same DOI, PMID or PMCID; same URL for a work with
    none) with DuplicateCitationError, and an invalid identifier with IdentifierError.
    The key is the item's "id" when it is a usable citation key, else an author-year
    key; a taken key gets a suffix. The study design is guessed from the item.
    """
    return _citation_create(item=item, user=user)


def _citation_create(*, item: dict, user=None, fetched: FetchedCitation | None = None):
    if not isinstance(item, dict):
        raise BibliographyError(f"a citation must be a CSL-JSON object, not {type(item).__name__}")
    item = copy.deepcopy(item)
    doi, pmid, pmcid = citations.item_identifiers(item)
    url = citations.http_url(item.get("URL"))
    duplicate = citation_find_duplicate(doi=doi, pmid=pmid, pmcid=pmcid, url=url)
    if duplicate:
        raise DuplicateCitationError(existing=duplicate[0], identifier=duplicate[1])
    title = item.get("title") or item.get("container-title")
    if title is not None and not isinstance(title, str):
        raise BibliographyError(
            f"reference {item.get('id')!r}: the title must be text, not {type(title).__name__}"
        )
    if not (title or "").strip():
        described = next(
            (
                f"{n} {v}"
                for n, v in zip(("DOI", "PMID", "PMCID"), (doi, pmid, pmcid), strict=True)
                if v
            ),
            "",
        )
        raise BibliographyError(
            f"reference {item.get('id') or described or '(no key)'!r} has no title; "
            "add one before adding it to the library"
        )
    # Stored identifiers are the normalised ones, whatever form they came in.
    for name in ("DOI", "PMID", "PMCID", "doi", "pmid", "pmcid"):
        item.pop(name, None)
    item.update((k, v) for k, v in (("DOI", doi), ("PMID", pmid), ("PMCID", pmcid)) if v)
    key = item.get("id") if _is_usable_key(item.get("id")) else suggest_key(item)
    item["id"] = _free_key(key)

    citation = Citation(key=item["id"])
    citation_apply_csl(citation=citation, item=item)
    if fetched is not None:
        citation.retraction_status = Citation.Retraction(fetched.retraction_status)
        citation.retraction_checked_at = fetched.fetched_at
    try:
        citation.full_clean(exclude=["csl"])
        with transaction.atomic():
            citation.save()
    except (ValidationError, IntegrityError):
        # Someone added the same work in between: report it as the duplicate it is.
        duplicate = citation_find_duplicate(doi=doi, pmid=pmid, pmcid=pmcid, url=url)
        if duplicate:
            raise DuplicateCitationError(existing=duplicate[0], identifier=duplicate[1]) from None
        raise
    logger.info(
        "citation #%s (%s) added to the library by %s",
        citation.pk,
        citation.key,
        getattr(user, "username", None) or "system",
    )
    return citation


# --- adding by DOI or PMID -----------------------------------------------------------------


def citation_add_by_identifier(
    *, identifier: str, client: MetadataClient | None = None, user=None
) -> Citation:
    """Add a work by DOI (any accepted form, doi.org links included) or PMID.

    Refuses a work already in the library before any request is made; otherwise
    fetches its metadata (Crossref for a DOI, PubMed for a PMID) and adds it, with the
    retraction status the service reports. Raises IdentifierError, FetchError,
    DuplicateCitationError (the fetched record may reveal a DOI or PMID already held).

    Deliberately not one transaction: a database transaction must not stay open (on
    SQLite, holding the write lock) for the seconds a metadata service may take. The
    write itself is atomic.
    """
    kind, value = classify_identifier(identifier)
    duplicate = citation_find_duplicate(**{kind: value})
    if duplicate:
        raise DuplicateCitationError(existing=duplicate[0], identifier=duplicate[1])
    client = client or MetadataClient()
    fetched = client.fetch_doi(value) if kind == "doi" else client.fetch_pmid(value)
    item = dict(fetched.item)
    item.pop("id", None)  # the service's id is the DOI or PMID: use an author-year key
    return _citation_add_fetched(item=item, fetched=fetched, user=user)


@transaction.atomic
def _citation_add_fetched(*, item: dict, fetched: FetchedCitation, user=None) -> Citation:
    return _citation_create(item=item, user=user, fetched=fetched)


# --- adding a pasted bibliography --------------------------------------------------------


@dataclass
class AddedItem:
    """What happened to one pasted reference: "created", "duplicate" or "error".

    `citation` is the new citation, or for a duplicate the existing one.
    """

    key: str
    outcome: str
    citation: Citation | None = None
    message: str = ""


@dataclass
class AddResult:
    fmt: str
    items: list[AddedItem] = field(default_factory=list)

    def _with(self, outcome: str) -> list[AddedItem]:
        return [item for item in self.items if item.outcome == outcome]

    @property
    def created(self) -> list[AddedItem]:
        return self._with("created")

    @property
    def duplicates(self) -> list[AddedItem]:
        return self._with("duplicate")

    @property
    def errors(self) -> list[AddedItem]:
        return self._with("error")


_DETECTORS = [
    ("nbib", re.compile(r"^PMID- ?[0-9]", re.MULTILINE)),
    ("ris", re.compile(r"^TY  -", re.MULTILINE)),
    ("bibtex", re.compile(r"^\s*@[A-Za-z]+\s*[{(]", re.MULTILINE)),
    ("csl-yaml", re.compile(r"\A(?:---\s*$|references\s*:|- )", re.MULTILINE)),
]


def detect_format(text: str) -> str:
    """The bibliography format of pasted text; BibliographyError when it is unclear."""
    start = text.lstrip("\ufeff \t\r\n")
    if start.startswith(("[", "{")):
        return "csl-json"
    for fmt, pattern in _DETECTORS:
        if pattern.search(start):
            return fmt
    raise BibliographyError(
        "could not tell what format the pasted text is in; choose BibTeX, RIS, CSL-JSON, "
        "CSL-YAML or PubMed (.nbib) instead of Detect"
    )


@transaction.atomic
def citations_add_from_text(*, text: str, fmt: str, user=None) -> AddResult:
    """Add every reference in pasted BibTeX, RIS, CSL-JSON, CSL-YAML or PubMed text.

    `fmt` is one of FORMAT_LABELS, or "auto" to detect it.

    Reading is all-or-nothing: text that cannot be read as a whole (unknown format,
    syntax error, invalid identifier, too large) raises BibliographyError naming the
    problem and its line, and nothing is added. Adding is per item: each readable
    reference is created, or reported as a duplicate of the existing record, or as an
    error, without affecting the others. Re-pasting the same text is therefore safe.
    """
    if not isinstance(text, str) or not text.strip():
        raise BibliographyError("nothing was pasted")
    if len(text) > MAX_PASTE_CHARS:
        raise BibliographyError(
            f"the pasted text is {len(text):,} characters long; paste at most "
            f"{MAX_PASTE_CHARS:,} at a time"
        )
    if fmt == "auto":
        fmt = detect_format(text)
    if fmt not in FORMAT_LABELS:
        raise BibliographyError(
            f"unknown format {fmt!r}: expected auto or one of {', '.join(FORMAT_LABELS)}"
        )
    items, generated_keys = _read_pasted(text, fmt)
    result = AddResult(fmt=fmt)
    for item in items:
        key = item["id"]
        if key in generated_keys or item.get("id") in (item.get("DOI"), item.get("PMID")):
            item.pop("id")  # a stand-in, not the author's key: use an author-year key
        try:
            citation = citation_add(item=item, user=user)
        except DuplicateCitationError as error:
            result.items.append(
                AddedItem(key, "duplicate", citation=error.existing, message=str(error))
            )
        except EXPECTED_ERRORS as error:
            result.items.append(AddedItem(key, "error", message=f"{key}: {_message(error)}"))
        else:
            renamed = f" (as {citation.key}: {key} was taken)" if citation.key != key else ""
            result.items.append(
                AddedItem(key, "created", citation=citation, message=f"Added {key}{renamed}.")
            )
    return result


def _read_pasted(text: str, fmt: str) -> tuple[list[dict], set[str]]:
    """Parsed items and the ids this function made up for items that had none."""
    label = FORMAT_LABELS[fmt]
    generated: set[str] = set()
    try:
        if fmt == "csl-json":
            text, generated = _with_json_ids(text)
        items = citations.read_bibliography(text, fmt)
    except BibliographyError as error:
        raise BibliographyError(f"could not read the pasted {label}: {error}") from error
    except (ValueError, TypeError, RecursionError) as error:
        # Parsers below raise these on some hostile input (deep nesting, impossible
        # YAML dates); the editor sees a message, never a server error.
        raise BibliographyError(f"could not read the pasted {label}: {error}") from error
    if not items:
        raise BibliographyError(f"no references were found in the pasted {label}")
    if len(items) > MAX_PASTE_ITEMS:
        raise BibliographyError(
            f"the pasted {label} has {len(items)} references; add at most "
            f"{MAX_PASTE_ITEMS} at a time"
        )
    return items, generated


def _with_json_ids(text: str) -> tuple[str, set[str]]:
    """Accept one CSL-JSON object as well as a list, and items without an "id"."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text, set()  # the parser reports the error with its line
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return text, set()
    generated = set()
    for number, entry in enumerate(data, start=1):
        if isinstance(entry, dict) and entry.get("id") in (None, ""):
            entry["id"] = f"pasted-item-{number}"
            generated.add(entry["id"])
    return json.dumps(data), generated


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        if hasattr(error, "message_dict"):
            return "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items()
            )
        return " ".join(error.messages)
    return getattr(error, "message", None) or str(error)


def report_rows(result: AddResult) -> list[dict]:
    """The result as rows for a template: status, citation (new or existing), message."""
    return [
        {
            "status": item.outcome,
            "citation": item.citation,
            "message": item.message,
            "key": item.key,
        }
        for item in result.items
    ]


# --- where a citation is used ------------------------------------------------------------


@dataclass(frozen=True)
class CitationUsage:
    """One article that uses a citation: the claim keys citing it (in draft order) and
    the keys its bibliography uses for it. Unpacks as (article, claim_keys)."""

    article: object
    claim_keys: list[str]
    keys: list[str]

    def __iter__(self):
        return iter((self.article, self.claim_keys))


def citation_usage(*, citation: Citation) -> list[CitationUsage]:
    """Every article whose draft cites `citation`, with the claims that cite it.

    An article that lists it in its bibliography but cites it in no claim appears with
    no claim keys. Two queries, however many articles and claims.
    """
    usages: dict[int, CitationUsage] = {}
    links = (
        ClaimCitation.objects.filter(citation=citation)
        .select_related("claim__article")
        .order_by("claim__article__title", "claim__article_id", "claim__position")
    )
    for link in links:
        article = link.claim.article
        usage = usages.setdefault(article.pk, CitationUsage(article, [], []))
        if link.claim.key not in usage.claim_keys:
            usage.claim_keys.append(link.claim.key)
    for entry in ArticleCitation.objects.filter(citation=citation).select_related("article"):
        usage = usages.setdefault(entry.article_id, CitationUsage(entry.article, [], []))
        usage.keys.append(entry.key)
    return sorted(usages.values(), key=lambda usage: (usage.article.title, usage.article.pk))
