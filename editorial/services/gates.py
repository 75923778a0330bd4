"""Publication gates: every problem that should stop (error) or worry (warning) a reviewer.

Errors block approval; warnings are shown to the reviewer, who decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from articles import markdown_rules, rendering
from articles.models import Article, Citation, ClaimCitation, FoundEvidence, ReaderReport
from articles.rendering import ArticleFormatError, parse_body
from editorial.readability import measure
from evidence.citations import PRIMARY_DESIGNS, normalize_doi
from evidence.fetching import FetchError, MetadataClient

ERROR = "error"
WARNING = "warning"
MAX_SOURCE_AGE_YEARS = 10

# Every gate, by the code its problems carry (shown by `article_info` and on the review
# page). README.md "Publication gates" describes each one.
GATES = {
    "missing-summary": "the article has a summary",
    "reviewer-credentials": "the approving reviewer has credentials on their profile",
    "format": "every section parses",
    "unknown-citation": "every cited key is in the bibliography",
    "uncited-claim": "every claim has a supporting citation",
    "ungraded-claim": "every claim has a certainty grade",
    "retracted-citation": "no claim cites a retracted source",
    "expression-of-concern": "warning: a claim cites a source under an expression of concern",
    "old-source": f"warning: a source is more than {MAX_SOURCE_AGE_YEARS} years old",
    "primary-only": "warning: a claim rests only on primary studies",
    "reference-incomplete": "a cited reference has a real title, an author or organisation, "
    "a year, and (journal articles) a DOI or PMID",
    "identifier-mismatch": "a reference's DOI and PMID name the same work",
    "regulatory-news-only": "warning: a regulatory or safety claim rests only on news items",
    "image-alt": "every image has alternative text, unless marked decorative",
    "image-source": "every image is one uploaded to this site, so the picture a reviewer "
    "approved is the one readers get",
    "unused-reference": "warning: every reference in the bibliography is cited",
    "reading-grade": "warning: the reading grade is at or below the target",
    "reader-report": "warning: a claim has an open reader report (never an error)",
    "new-evidence": "warning: a systematic review, meta-analysis or guideline found by the "
    "evidence watch, newer than the last review, is still undecided (never an error)",
}

# A title still carrying an editor's placeholder is not a reference a reader can find.
TITLE_PLACEHOLDER_RE = re.compile(r"\[|\?\?|\bUNVERIFIED\b|\bTODO\b", re.IGNORECASE)
# CSL types that are journal articles, which must carry a DOI or a PMID.
JOURNAL_TYPES = frozenset({"article-journal"})
# CSL types whose publisher may stand in for an author (a web page, report or news item
# from an organisation without a named author). Never for journal articles or books.
PUBLISHER_AS_AUTHOR_TYPES = frozenset(
    {"webpage", "post-weblog", "report", "article-newspaper", "article-magazine", "pamphlet"}
)
# A news item: CSL type article-newspaper or article-magazine, or a genre naming news
# coverage. A regulator's own "News release" is a primary source, not a news item.
NEWS_TYPES = frozenset({"article-newspaper", "article-magazine"})
NEWS_GENRES = frozenset({"news", "news article", "news report", "news story", "trade news"})
# Words that make a claim regulatory or about safety.
REGULATORY_RE = re.compile(
    r"\b(?:approv\w*|licen[cs]\w*|authori[sz]\w*|warn\w*|safety|safe|unsafe|REMS|recall\w*"
    r"|boxed|contraindicat\w*)\b",
    re.IGNORECASE,
)
# The DOI PubMed lists for a PMID, cached by `identifiers_check_online`.
PUBMED_DOI_CACHE_KEY = "ptsdinfo:pubmed-doi:{pmid}"
PUBMED_DOI_CACHE_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class Problem:
    level: str
    code: str
    message: str
    claim_key: str = ""
    field: str = ""

    @property
    def is_error(self) -> bool:
        return self.level == ERROR

    def as_dict(self) -> dict:
        return {
            "level": self.level,
            "code": self.code,
            "message": self.message,
            "claim": self.claim_key,
            "field": self.field,
        }


def article_gates(*, article: Article, reviewer=None) -> list[Problem]:
    """Every gate result for the draft, errors first. `reviewer` is the would-be approver."""
    problems: list[Problem] = []
    if not article.summary.strip():
        problems.append(
            Problem(
                ERROR, "missing-summary", gettext("The article has no summary."), field="summary"
            )
        )
    if reviewer is not None:
        profile = getattr(reviewer, "profile", None)
        if profile is None or not profile.credentials.strip():
            problems.append(
                Problem(
                    ERROR,
                    "reviewer-credentials",
                    gettext(
                        "Reviewer %(who)s has no credentials on their staff profile; readers "
                        "must see who checked the article."
                    )
                    % {"who": reviewer.get_username()},
                    field="reviewer",
                )
            )
    sections = list(article.sections.order_by("position"))
    bibliography = list(article.bibliography.select_related("citation").order_by("key"))
    key_problems, cited = _unknown_keys(sections, bibliography)
    problems.extend(key_problems)
    problems.extend(_claim_problems(article))
    problems.extend(_reference_problems(bibliography, cited))
    problems.extend(_image_problems(sections))
    problems.extend(_reading_grade(sections))
    problems.extend(_reader_report_problems(article))
    problems.extend(_new_evidence_problems(article))
    return sorted(problems, key=lambda p: p.level != ERROR)


def _section_text(section) -> str:
    return section.body if not section.heading else f"## {section.heading}\n\n{section.body}"


def _unknown_keys(sections, bibliography) -> tuple[list[Problem], set[str]]:
    """Problems for keys cited but not in the bibliography, and every key cited."""
    known = {link.key for link in bibliography}
    cited: set[str] = set()
    problems = []
    for section in sections:
        try:
            parsed = parse_body(_section_text(section))
        except ArticleFormatError as exc:
            problems.append(
                Problem(
                    ERROR,
                    "format",
                    gettext("Section %(anchor)r: %(problem)s")
                    % {"anchor": section.anchor, "problem": exc.message},
                )
            )
            continue
        for parsed_section in parsed:
            for ref in parsed_section.citations:
                cited.add(ref.key)
                if ref.key not in known:
                    known.add(ref.key)  # report each key once
                    problems.append(
                        Problem(
                            ERROR,
                            "unknown-citation",
                            gettext("Unknown citation key %(key)r in section %(anchor)r.")
                            % {"key": ref.key, "anchor": section.anchor},
                        )
                    )
    return problems, cited


# --- references -----------------------------------------------------------------------


def is_news_item(citation: Citation) -> bool:
    """A news report (not a regulator's or maker's own release): CSL type
    article-newspaper / article-magazine, or a news genre."""
    csl = citation.csl or {}
    genre = str(csl.get("genre") or "").strip().lower()
    return str(csl.get("type") or "") in NEWS_TYPES or genre in NEWS_GENRES


def reference_gaps(citation: Citation) -> list[str]:
    """What a reader would miss in this reference, in plain words ([] when complete)."""
    csl = citation.csl or {}
    csl_type = str(csl.get("type") or "")
    gaps = []
    title = str(csl.get("title") or "").strip()
    if not title:
        gaps.append(gettext("a title"))
    elif TITLE_PLACEHOLDER_RE.search(title):
        gaps.append(gettext("a real title (it still has a placeholder)"))
    people = [
        name
        for role in ("author", "editor")
        for name in (csl.get(role) or [])
        if isinstance(name, dict) and any(str(name.get(k) or "").strip() for k in _NAME_PARTS)
    ]
    organisation = str(csl.get("authority") or "").strip() or (
        csl_type in PUBLISHER_AS_AUTHOR_TYPES and str(csl.get("publisher") or "").strip()
    )
    if not people and not organisation:
        gaps.append(gettext("an author or an organisation"))
    if not citation.year:
        gaps.append(gettext("a year"))
    if csl_type in JOURNAL_TYPES and not (citation.doi or citation.pmid):
        gaps.append(gettext("a DOI or PMID"))
    return gaps


_NAME_PARTS = ("family", "literal", "given")


def cached_pubmed_doi(pmid: str) -> str | None:
    """The DOI PubMed listed for `pmid` when last checked ("" for none), or None."""
    return cache.get(PUBMED_DOI_CACHE_KEY.format(pmid=pmid))


def identifier_mismatch(citation: Citation) -> str:
    """Why this reference's DOI and PMID disagree, from cached PubMed data; "" if they
    agree or nothing is known."""
    if not (citation.doi and citation.pmid):
        return ""
    listed = cached_pubmed_doi(citation.pmid)
    if not listed or listed == citation.doi:
        return ""
    return gettext(
        "PubMed lists DOI %(listed)s for PMID %(pmid)s, but the reference has %(doi)s"
    ) % {"listed": listed, "pmid": citation.pmid, "doi": citation.doi}


def identifiers_check_online(*, article: Article, client=None) -> list[str]:
    """Ask PubMed which DOI each cited PMID has, and cache it for the gate.

    Only when fetching is allowed (the caller decides: `article_info --online`); the
    gate itself never makes a request. Returns what could not be checked, in words.
    """
    client = client or MetadataClient()
    failures = []
    for link in article.bibliography.select_related("citation"):
        citation = link.citation
        if not (citation.doi and citation.pmid):
            continue
        try:
            fetched = client.fetch_pmid(citation.pmid)
        except FetchError as exc:
            failures.append(f"{link.key}: {exc}")
            continue
        doi = fetched.item.get("DOI") or ""
        cache.set(
            PUBMED_DOI_CACHE_KEY.format(pmid=citation.pmid),
            normalize_doi(doi) if doi else "",
            PUBMED_DOI_CACHE_SECONDS,
        )
    return failures


def _reference_problems(bibliography, cited: set[str]) -> list[Problem]:
    problems = []
    for link in bibliography:
        if link.key not in cited:
            problems.append(
                Problem(
                    WARNING,
                    "unused-reference",
                    gettext("Reference %(key)r is in the bibliography but nothing cites it.")
                    % {"key": link.key},
                )
            )
            continue
        gaps = reference_gaps(link.citation)
        if gaps:
            problems.append(
                Problem(
                    ERROR,
                    "reference-incomplete",
                    gettext("Reference %(key)r needs %(gaps)s.")
                    % {"key": link.key, "gaps": ", ".join(gaps)},
                )
            )
        if mismatch := identifier_mismatch(link.citation):
            problems.append(
                Problem(
                    ERROR,
                    "identifier-mismatch",
                    gettext("Reference %(key)r: its DOI and PMID disagree (%(mismatch)s).")
                    % {"key": link.key, "mismatch": mismatch},
                )
            )
    return problems


# --- images ----------------------------------------------------------------------------

DECORATIVE_CLASS = "decorative"


def _is_upload(src: str) -> bool:
    """An image the editor uploaded: a path under this site's upload folder. The
    format allows any http(s) image, but one from another host can change after
    approval, and tells that host who reads the page."""
    prefix = f"{settings.MEDIA_URL}{settings.MARKDOWNX_MEDIA_PATH}"
    return src.startswith(prefix) and ".." not in src and "\\" not in src


def _image_problems(sections) -> list[Problem]:
    """An image needs alternative text unless it sits in a `[...]{.decorative}` span,
    and must be one uploaded to this site."""
    problems = []
    for section in sections:
        text = _section_text(section)
        try:
            rendering.check_complexity(text)  # what the format gate refuses is not parsed here
        except ArticleFormatError:
            continue
        tokens = markdown_rules.MD.parse(text.removesuffix("\n") + "\n", {})
        for token in tokens:
            if token.type != "inline":
                continue
            decorative_depth = 0
            spans: list[bool] = []
            for child in token.children or []:
                if child.type == "span_open":
                    attrs = child.meta.get("attrs")
                    is_decorative = DECORATIVE_CLASS in getattr(attrs, "classes", ())
                    spans.append(is_decorative)
                    decorative_depth += is_decorative
                elif child.type == "span_close" and spans:
                    decorative_depth -= spans.pop()
                elif child.type == "image":
                    src = str(child.attrs.get("src", ""))
                    if not _is_upload(src):
                        problems.append(
                            Problem(
                                ERROR,
                                "image-source",
                                gettext(
                                    "Image %(src)r in section %(anchor)r is not one uploaded "
                                    "to this site; upload it with the editor's image button, "
                                    "so the picture approved is the one readers get."
                                )
                                % {"src": src, "anchor": section.anchor},
                            )
                        )
                    alt = "".join(c.content for c in child.children or []).strip()
                    if not alt and not decorative_depth:
                        problems.append(
                            Problem(
                                ERROR,
                                "image-alt",
                                gettext(
                                    "Image %(src)r in section %(anchor)r has no alternative "
                                    "text; describe it, or mark it decorative with "
                                    "[![](...)]{.decorative}."
                                )
                                % {"src": src, "anchor": section.anchor},
                            )
                        )
    return problems


def _claim_problems(article: Article) -> list[Problem]:
    problems = []
    old_reported: set[int] = set()
    claims = article.claims.order_by("position").prefetch_related("claim_citations__citation")
    for claim in claims:
        supports = [
            link.citation
            for link in claim.claim_citations.all()
            if link.relation == ClaimCitation.Relation.SUPPORTS
        ]
        if not supports:
            problems.append(
                Problem(
                    ERROR,
                    "uncited-claim",
                    gettext("Claim %(key)r has no supporting citation.") % {"key": claim.key},
                    claim_key=claim.key,
                )
            )
        if not claim.certainty:
            problems.append(
                Problem(
                    ERROR,
                    "ungraded-claim",
                    gettext("Claim %(key)r has no certainty grade.") % {"key": claim.key},
                    claim_key=claim.key,
                )
            )
        for citation in supports:
            problems.extend(_source_problems(claim, citation, old_reported))
        problems.extend(_support_problems(claim, supports))
    return problems


def _source_problems(claim, citation: Citation, old_reported: set[int]) -> list[Problem]:
    """One supporting source of a claim: retracted, under concern, or old (each old
    source reported once, at the first claim citing it)."""
    problems = []
    if citation.retraction_status == Citation.Retraction.RETRACTED:
        problems.append(
            Problem(
                ERROR,
                "retracted-citation",
                gettext("Claim %(key)r cites a retracted source: %(title)s.")
                % {"key": claim.key, "title": citation.title},
                claim_key=claim.key,
            )
        )
    elif citation.retraction_status == Citation.Retraction.CONCERN:
        problems.append(
            Problem(
                WARNING,
                "expression-of-concern",
                gettext("Claim %(key)r cites a source under an expression of concern: %(title)s.")
                % {"key": claim.key, "title": citation.title},
                claim_key=claim.key,
            )
        )
    too_old = timezone.localdate().year - MAX_SOURCE_AGE_YEARS
    if citation.year and citation.year < too_old and citation.pk not in old_reported:
        old_reported.add(citation.pk)
        problems.append(
            Problem(
                WARNING,
                "old-source",
                gettext(
                    "Source from %(year)s is more than %(limit)s years old (first cited by "
                    "claim %(key)r): %(title)s."
                )
                % {
                    "year": citation.year,
                    "limit": MAX_SOURCE_AGE_YEARS,
                    "key": claim.key,
                    "title": citation.title,
                },
                claim_key=claim.key,
            )
        )
    return problems


def _support_problems(claim, supports: list[Citation]) -> list[Problem]:
    """What the claim's sources are, taken together: news only for a regulatory claim,
    or primary studies only."""
    problems = []
    if supports and REGULATORY_RE.search(claim.statement) and all(map(is_news_item, supports)):
        problems.append(
            Problem(
                WARNING,
                "regulatory-news-only",
                gettext(
                    "Claim %(key)r is about approval, licensing, warnings or safety, but its "
                    "only sources are news items; cite the regulator, the label or the maker's "
                    "own release."
                )
                % {"key": claim.key},
                claim_key=claim.key,
            )
        )
    if supports and all(c.study_design in PRIMARY_DESIGNS for c in supports):
        problems.append(
            Problem(
                WARNING,
                "primary-only",
                gettext(
                    "Claim %(key)r rests only on primary studies; is there a review or guideline?"
                )
                % {"key": claim.key},
                claim_key=claim.key,
            )
        )
    return problems


def _reading_grade(sections) -> list[Problem]:
    text = "\n\n".join(f"{s.heading}\n\n{s.body}" if s.heading else s.body for s in sections)
    result = measure(text)
    target = settings.PTSDINFO_READING_GRADE_TARGET
    if result.words and result.grade > target:
        return [
            Problem(
                WARNING,
                "reading-grade",
                gettext(
                    "Reading grade %(grade).1f (SMOG %(smog).1f, Flesch-Kincaid %(fk).1f) is "
                    "above the target of %(target)g."
                )
                % {
                    "grade": result.grade,
                    "smog": result.smog,
                    "fk": result.flesch_kincaid,
                    "target": target,
                },
            )
        ]
    return []


def _reader_report_problems(article: Article) -> list[Problem]:
    """Open reader reports: a warning only, so a reader can never block publication."""
    reports = article.reader_reports.filter(state__in=ReaderReport.OPEN_STATES)
    return [
        Problem(
            WARNING,
            "reader-report",
            (
                gettext("Open reader report %(number)s (%(kind)s) on claim %(key)s.")
                if report.claim_key
                else gettext("Open reader report %(number)s (%(kind)s) on the page.")
            )
            % {"number": report.pk, "kind": report.get_kind_display(), "key": report.claim_key},
            claim_key=report.claim_key,
        )
        for report in reports.order_by("created_at")
    ]


def _new_evidence_problems(article: Article) -> list[Problem]:
    """Undecided systematic reviews, meta-analyses and guidelines the evidence watch
    found, newer than the last review (by the day they entered PubMed, else their
    publication date): a warning only, so a search result never blocks publication."""
    found = article.found_evidence.filter(
        state__in=FoundEvidence.OPEN_STATES, kind__in=FoundEvidence.GATE_KINDS
    )
    reviewed = article.last_reviewed
    if reviewed:
        found = found.filter(
            Q(entered_on__gt=reviewed)
            | Q(entered_on__isnull=True, published_on__gt=reviewed)
            | Q(entered_on__isnull=True, published_on__isnull=True)
        )
    return [
        Problem(
            WARNING,
            "new-evidence",
            gettext(
                "New %(kind)s since the last review, not yet weighed: PMID %(pmid)s, “%(title)s”"
            )
            % {
                "kind": item.get_kind_display().lower(),
                "pmid": item.pmid,
                "title": item.title[:120],
            }
            + (f" ({item.journal}, {item.published_text})." if item.journal else "."),
        )
        for item in found.order_by("-entered_on", "pmid")
    ]
