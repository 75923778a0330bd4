"""Literature searches on PubMed through NCBI E-utilities: esearch, then esummary.

Pure parts (URL building, JSON parsing, publication-type classification) plus
`LiteratureClient`, which sends them through the guarded transport (allow-list,
address pinning, no redirects, deadlines, size cap) of `transport.SafeHttpClient`.

NCBI's published rules for E-utilities, kept here:
- at most 3 requests a second without an API key, 10 with one (`Throttle`);
- every request names the tool and a contact email (`tool=`, `email=`; the email is
  the PTSDINFO_FETCH_CONTACT setting, the key PTSDINFO_NCBI_API_KEY);
- a bounded number of results per search (`retmax`).

Dates: searches use `datetype=edat`, the Entrez date (the day a record entered
PubMed), not `pdat` (publication date). "New since the last review" means new to a
reader of PubMed: a paper dated before the review but indexed after it (print date
earlier than indexing, back-filled records) is caught by edat and missed by pdat, and
an article's future print date (pdat can be months ahead of the e-pub) cannot hide it
from the next run. With edat each record falls in exactly one run's window.

No database access here: `editorial.services.watch` stores what this returns.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from evidence.designs import guess_study_design
from evidence.fetching.transport import BadResponse, SafeHttpClient, _setting
from evidence.identifiers import IdentifierError, normalize_pmid

TOOL = "ptsdinfo"
DEFAULT_MAX_RESULTS = 100
HARD_MAX_RESULTS = 500  # one esummary request of 500 ids stays well under the size cap
MAX_QUERY_CHARS = 1000
# Kinds of found work; the first four are the ones an editor must see.
SYSTEMATIC_REVIEW = "systematic-review"
META_ANALYSIS = "meta-analysis"
RCT = "rct"
GUIDELINE = "guideline"
OTHER = "other"
KINDS = (SYSTEMATIC_REVIEW, META_ANALYSIS, RCT, GUIDELINE, OTHER)
NOTABLE_KINDS = frozenset({SYSTEMATIC_REVIEW, META_ANALYSIS, RCT, GUIDELINE})

# PubMed publication types -> kind, strongest first (a guideline that is also a
# systematic review is a guideline; a meta-analysis is the more specific review).
_TYPE_KINDS = [
    (GUIDELINE, {"practice guideline", "guideline", "consensus development conference"}),
    (META_ANALYSIS, {"meta-analysis", "network meta-analysis"}),
    (SYSTEMATIC_REVIEW, {"systematic review"}),
    (RCT, {"randomized controlled trial", "randomized controlled trial, veterinary"}),
]
# Publication types that are about another work (a comment on a systematic review is not
# one): these are "other" whatever their title says.
_ABOUT_ANOTHER = {
    "comment", "letter", "editorial", "published erratum", "retraction of publication",
    "retraction notice", "expression of concern", "news", "interview",
}  # fmt: skip
# Title words for records whose types say nothing yet (only "Journal Article": new
# records are typed by indexers weeks later).
_TITLE_KINDS = {"systematic-review": SYSTEMATIC_REVIEW, "guideline": GUIDELINE, "rct": RCT}
_META_RE = re.compile(r"meta-?analy[sz][ie]s", re.IGNORECASE)
_DATE_RE = re.compile(r"^(\d{4})/(\d{2})/(\d{2})")
_STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "does", "do", "for",
        "from", "how", "in", "is", "it", "of", "on", "or", "the", "to", "what", "when",
        "which", "who", "why", "with", "without", "your", "you", "about", "after", "into",
        "its",
    }
)  # fmt: skip


def classify(publication_types: Iterable[str], title: str = "") -> str:
    """The kind of a found work, from its PubMed publication types, else its title."""
    types = {str(t).strip().lower() for t in publication_types}
    if types & _ABOUT_ANOTHER:
        return OTHER
    for kind, names in _TYPE_KINDS:
        if types & names:
            return kind
    if types - {"journal article", "preprint", "english abstract"}:
        return OTHER  # typed, and none of the kinds above (a review, a cohort, ...)
    if _META_RE.search(title or ""):
        return META_ANALYSIS
    return _TITLE_KINDS.get(guess_study_design({"title": title or ""}), OTHER)


def default_query(title: str, topics: Iterable[str] = ()) -> str:
    """A starting PubMed query from an article's title and topic names: the title's
    significant words all in title/abstract, and any one topic. A Clinical reviewer
    refines it; it only has to find the obvious."""

    def terms(text: str) -> list[str]:
        words = re.findall(r"[A-Za-z0-9][A-Za-z0-9-]*", text)
        return [w for w in words if len(w) > 2 and w.lower() not in _STOP_WORDS]

    words = list(dict.fromkeys(w.lower() for w in terms(title)))[:6]
    query = " AND ".join(f"{w}[tiab]" for w in words)
    names = list(dict.fromkeys(" ".join(terms(t)).lower() for t in topics if terms(t)))
    names = [n for n in names if n not in words][:5]
    if names:
        topic_part = " OR ".join(f'"{n}"[tiab]' if " " in n else f"{n}[tiab]" for n in names)
        query = f"({query}) AND ({topic_part})" if query else topic_part
    return query


@dataclass(frozen=True)
class FoundWork:
    """One PubMed record from esummary."""

    pmid: str
    title: str
    journal: str = ""
    published_text: str = ""  # as PubMed prints it: "2024 Mar", "2025 Jan 15"
    published_on: datetime.date | None = None
    entered_on: datetime.date | None = None  # the Entrez date
    publication_types: tuple[str, ...] = ()
    doi: str = ""

    @property
    def kind(self) -> str:
        return classify(self.publication_types, self.title)


@dataclass(frozen=True)
class SearchResult:
    """What esearch found: `pmids` (at most retmax, newest first) of `count` in all."""

    count: int
    pmids: list[str] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.count > len(self.pmids)


def _common(*, email: str, api_key: str) -> dict:
    params = {"tool": TOOL}
    if email:
        params["email"] = email
    if api_key:
        params["api_key"] = api_key
    return params


def esearch_url(
    base: str,
    query: str,
    *,
    mindate: datetime.date,
    maxdate: datetime.date,
    retmax: int = DEFAULT_MAX_RESULTS,
    email: str = "",
    api_key: str = "",
) -> str:
    """The esearch URL for `query` in the Entrez-date window [mindate, maxdate]."""
    query = query.strip()
    if not query or len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"A search query needs 1 to {MAX_QUERY_CHARS} characters.")
    params = {
        "db": "pubmed",
        "term": query,
        "datetype": "edat",
        "mindate": mindate.strftime("%Y/%m/%d"),
        "maxdate": maxdate.strftime("%Y/%m/%d"),
        "retmax": str(max(1, min(int(retmax), HARD_MAX_RESULTS))),
        "sort": "pub_date",
        "retmode": "json",
    }
    return f"{base}?{urlencode(params | _common(email=email, api_key=api_key))}"


def esummary_url(base: str, pmids: Iterable[str], *, email: str = "", api_key: str = "") -> str:
    ids = [normalize_pmid(p) for p in pmids]
    if not ids or len(ids) > HARD_MAX_RESULTS:
        raise ValueError(f"esummary takes 1 to {HARD_MAX_RESULTS} PMIDs.")
    params = {"db": "pubmed", "id": ",".join(ids), "retmode": "json", "version": "2.0"}
    return f"{base}?{urlencode(params | _common(email=email, api_key=api_key))}"


def _json(body: bytes, described: str) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise BadResponse(f"{described} sent a reply that is not valid JSON.") from error
    if not isinstance(data, dict):
        raise BadResponse(f"{described} sent JSON that is not an object.")
    if isinstance(data.get("error"), str):  # e.g. "API rate limit exceeded"
        raise BadResponse(f"{described} answered with an error: {data['error'][:200]}")
    return data


def parse_esearch(body: bytes, described: str = "PubMed search") -> SearchResult:
    result = _json(body, described).get("esearchresult")
    if not isinstance(result, dict):
        raise BadResponse(f"{described} sent no esearchresult.")
    if result.get("ERROR"):
        raise BadResponse(f"{described}: PubMed refused the query: {str(result['ERROR'])[:200]}")
    try:
        count = int(result.get("count", 0))
        pmids = [normalize_pmid(p) for p in result.get("idlist", [])]
    except (TypeError, ValueError, IdentifierError) as error:
        raise BadResponse(f"{described} sent a malformed result ({error}).") from error
    return SearchResult(count=count, pmids=list(dict.fromkeys(pmids)))


def _date(value) -> datetime.date | None:
    match = _DATE_RE.match(str(value or ""))
    if not match:
        return None
    try:
        return datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _summary(uid: str, record: dict) -> FoundWork:
    history = record.get("history") if isinstance(record.get("history"), list) else []
    entrez = next(
        (h.get("date") for h in history if isinstance(h, dict) and h.get("pubstatus") == "entrez"),
        None,
    )
    ids = record.get("articleids") if isinstance(record.get("articleids"), list) else []
    doi = next(
        (str(i.get("value", "")) for i in ids if isinstance(i, dict) and i.get("idtype") == "doi"),
        "",
    )
    types = record.get("pubtype") if isinstance(record.get("pubtype"), list) else []
    return FoundWork(
        pmid=normalize_pmid(uid),
        title=" ".join(str(record.get("title") or "").split())[:1000],
        journal=str(record.get("fulljournalname") or record.get("source") or "")[:300],
        published_text=str(record.get("pubdate") or "")[:40],
        published_on=_date(record.get("sortpubdate")),
        entered_on=_date(entrez),
        publication_types=tuple(str(t)[:100] for t in types[:30]),
        doi=doi[:300],
    )


def parse_esummary(body: bytes, described: str = "PubMed summaries") -> list[FoundWork]:
    """The records of an esummary JSON reply, in its `uids` order; a record PubMed
    reports as an error (withdrawn, unknown) is left out."""
    result = _json(body, described).get("result")
    if not isinstance(result, dict) or not isinstance(result.get("uids"), list):
        raise BadResponse(f"{described} sent no result list.")
    works = []
    for uid in result["uids"]:
        record = result.get(str(uid))
        if not isinstance(record, dict) or record.get("error"):
            continue
        try:
            works.append(_summary(str(uid), record))
        except IdentifierError as error:
            raise BadResponse(f"{described} sent an invalid PMID ({error}).") from error
    return works


class Throttle:
    """At most `per_second` calls a second: `wait()` sleeps until the next may go.

    Calls are spaced 10 ms more than 1/per_second apart, so no one-second window ever
    holds more than `per_second` of them, whatever the timer's rounding."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = 1.0 / per_second + 0.01
        self.clock, self.sleep = clock, sleep
        self._next = None

    def wait(self) -> None:
        now = self.clock()
        if self._next is not None and now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class LiteratureClient(SafeHttpClient):
    """Runs PubMed searches (esearch, then esummary) under the transport's rules and
    NCBI's rate limit: 3 requests a second, 10 with PTSDINFO_NCBI_API_KEY."""

    def __init__(self, *, api_key: str | None = None, throttle: Throttle | None = None, **kw):
        super().__init__(**kw)
        self.api_key = (
            api_key if api_key is not None else _setting("PTSDINFO_NCBI_API_KEY", "")
        ).strip()
        self.throttle = throttle or Throttle(10 if self.api_key else 3)

    def _get_json(self, url: str, described: str) -> bytes:
        self.throttle.wait()
        return self.get(url, accept="application/json", described=described)

    def search(
        self,
        query: str,
        *,
        mindate: datetime.date,
        maxdate: datetime.date,
        retmax: int = DEFAULT_MAX_RESULTS,
    ) -> SearchResult:
        described = f"PubMed search ({query[:60]})"
        url = esearch_url(
            self.base_urls["esearch"], query, mindate=mindate, maxdate=maxdate, retmax=retmax,
            email=self.contact, api_key=self.api_key,
        )  # fmt: skip
        return parse_esearch(self._get_json(url, described), described)

    def summaries(self, pmids: Iterable[str]) -> list[FoundWork]:
        pmids = list(pmids)
        if not pmids:
            return []
        described = f"PubMed summaries ({len(pmids)} records)"
        url = esummary_url(
            self.base_urls["esummary"], pmids, email=self.contact, api_key=self.api_key
        )
        return parse_esummary(self._get_json(url, described), described)
