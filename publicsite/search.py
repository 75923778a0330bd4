"""Search over the published versions readers can see.

PostgreSQL: full-text search in `websearch_to_tsquery` syntax ("quoted phrases",
`-exclusions`, `or`) over a stored tsvector that weights the title (A) above the
summary (B) above the body (C). Migration 0004 adds that column, generated from the
version's own text, and its GIN index; results are ranked with `ts_rank` and quoted
with `ts_headline`.

Elsewhere (SQLite, the embedded default) a fallback with the same interface: every
term must appear (case-insensitively for ASCII) in the title, summary or stored body
text; `-term` excludes; `or` separates alternatives; a title match counts more than
a summary match, which counts more than a body match. Snippets are cut in Python.

Whatever a reader types, `search_query_clean` turns it into something safe to search
for or into a named problem the page can explain: control characters and NUL bytes
are dropped, the length is capped, and text without a single letter or digit is not
searched at all.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    Case,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from articles.models import ArticleTranslation, ArticleVersion, TranslationVersion

MAX_QUERY_CHARS = 200
MAX_TERMS = 10
PAGE_SIZE = 10
SNIPPET_CHARS = 220
SEARCH_CONFIG = "english"
# PostgreSQL ranks at most this many matches, the most recently reviewed (limited
# ranking, issue 16); more matches than this are reported as "RANK_LIMIT or more".
RANK_LIMIT = 500
# The text-search configuration for each translation language (issue 18); migration
# 0014's generated `search_vector` on translation versions uses the same ones.
TRANSLATION_SEARCH_CONFIGS = {"es": "spanish"}
# Private-use characters mark highlights inside ts_headline output; the stored text
# never contains them (articles.plaintext.document_text drops them), so escaping
# cannot be fooled.
_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"

# --- what the reader typed ------------------------------------------------------------


@dataclass(frozen=True)
class SearchQuery:
    raw: str
    text: str  # cleaned: what is searched for and shown back to the reader
    truncated: bool = False
    problem: str = ""  # "", "empty" or "no-words"

    @property
    def is_searchable(self) -> bool:
        return not self.problem


def search_query_clean(raw: str | None) -> SearchQuery:
    """Normalise what a reader typed. Never raises, whatever the input."""
    raw = raw or ""
    text = unicodedata.normalize("NFKC", raw[: MAX_QUERY_CHARS * 4])
    # Control, format, private-use and unassigned characters (NUL included) become
    # spaces: PostgreSQL rejects NUL in text, and none of them can be searched for.
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    text = " ".join(text.split())
    truncated = len(raw) > MAX_QUERY_CHARS and len(text) > MAX_QUERY_CHARS
    if len(text) > MAX_QUERY_CHARS:
        cut = text[:MAX_QUERY_CHARS]
        text = (cut.rsplit(" ", 1)[0] if " " in cut else cut).strip()
        truncated = True
    if not text:
        return SearchQuery(raw=raw, text="", problem="empty")
    if not any(ch.isalnum() for ch in text):
        return SearchQuery(raw=raw, text=text, truncated=truncated, problem="no-words")
    return SearchQuery(raw=raw, text=text, truncated=truncated)


# --- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    slug: str
    title: str
    summary: str
    snippet: SafeString
    last_reviewed: object
    language: str = "en"

    def get_absolute_url(self) -> str:
        """The page in the hit's language (a translation's page, or the English one)."""
        from django.urls import reverse
        from django.utils.translation import override

        with override(self.language):
            return reverse("articles:detail", kwargs={"slug": self.slug})


def search_published(
    *, query: SearchQuery, page: str | int | None = 1, language: str | None = None
) -> Page:
    """One page of published articles matching `query`, best first (two queries: the
    count and the page). The page's `object_list` holds SearchHit objects. With a
    translation `language`, the live translations in that language instead
    (`search_translations`)."""
    if not query.is_searchable:
        return Paginator([], PAGE_SIZE).get_page(1)
    if language is not None:
        return search_translations(query=query, page=page, language=language)
    paginator_count = None
    if connection.vendor == "postgresql":
        queryset, paginator_count = _postgres_matches(query.text)
        to_hit = _postgres_hit
        terms: list[str] = []
    else:
        groups = _fallback_terms(query.text)
        queryset = _fallback_matches(groups)
        terms = [term for group in groups for term, negated in group if not negated]
        to_hit = None
    paginator = Paginator(queryset, PAGE_SIZE)
    if paginator_count is not None:
        paginator.__dict__["count"] = paginator_count  # known: no count query
    result = paginator.get_page(page)
    result.capped = paginator_count is not None and paginator_count >= RANK_LIMIT
    if to_hit is not None:
        result.object_list = [to_hit(version) for version in result.object_list]
    else:
        result.object_list = [_fallback_hit(version, terms) for version in result.object_list]
    return result


def _live_versions():
    """Versions that are some article's live page: never drafts or superseded versions."""
    return ArticleVersion.objects.filter(article__live_version=F("pk")).select_related("article")


# PostgreSQL ----------------------------------------------------------------------------


class StoredSearchVector(Expression):
    """The `search_vector` column migration 0004 generates on PostgreSQL:
    setweight(title, A) || setweight(summary, B) || setweight(search_text, C)."""

    def __init__(self):
        from django.contrib.postgres.search import SearchVectorField

        super().__init__(output_field=SearchVectorField())

    def as_sql(self, compiler, connection):
        table = compiler.quote_name(ArticleVersion._meta.db_table)
        return f"{table}.search_vector", []


def _postgres_matches(text: str) -> tuple[QuerySet, int]:
    """Limited ranking (issue 16), two queries. First the ids of the RANK_LIMIT most
    recently reviewed matching live versions, read in that order through
    `article_version_reviewed_idx` (a common word stops after a few hundred rows instead
    of reading every match; a rare one uses the GIN index); their number is the result
    count, so there is no count query. Then those versions ranked by `ts_rank`, best
    first, with `ts_headline` only for the rows on the page."""
    from django.contrib.postgres.search import SearchQuery, SearchRank

    tsquery = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
    ids = list(_postgres_candidates(tsquery))
    from articles.models import Article

    ranked = (
        ArticleVersion.objects.filter(pk__in=ids)
        .annotate(
            # A scalar subquery in the select list: PostgreSQL runs it after the sort and
            # limit, for the rows on the page only (a join would read every article).
            slug=Subquery(
                Article.objects.filter(pk=OuterRef("article_id")).order_by().values("slug")
            ),
            rank=SearchRank(StoredSearchVector(), tsquery),
            headline=_headline(tsquery, SEARCH_CONFIG),
        )
        .only("title", "summary", "last_reviewed")
        .order_by("-rank", "-last_reviewed", "title", "pk")
    )
    return ranked, len(ids)


def _postgres_candidates(tsquery):
    """The ids of the RANK_LIMIT most recently reviewed live versions matching."""
    from articles.models import Article

    return (
        ArticleVersion.objects.filter(pk__in=Article.objects.values("live_version"))
        .alias(document=StoredSearchVector())
        .filter(document=tsquery)
        .order_by("-last_reviewed", "-pk")
        .values_list("pk", flat=True)[:RANK_LIMIT]
    )


def _postgres_hit(version) -> SearchHit:
    headline = version.headline or ""
    # Without a mark the words matched only the title or summary: show the summary.
    snippet = _marked(headline) if _MARK_OPEN in headline else escape(version.summary)
    return SearchHit(
        slug=version.slug,
        title=version.title,
        summary=version.summary,
        snippet=snippet,
        last_reviewed=version.last_reviewed,
    )


# Translations ----------------------------------------------------------------------------


def search_translations(*, query: SearchQuery, page, language: str) -> Page:
    """One page of the live translations in `language` matching `query` (two queries).

    PostgreSQL: as English (`_postgres_matches`), over the stored, GIN-indexed
    `search_vector` migration 0014 generates on translation versions with the
    language's text-search configuration (`spanish`: its stemming and stop words; title
    A, summary B, the page's text C), `websearch_to_tsquery` in that configuration, the
    same limited ranking and a `ts_headline` snippet. Elsewhere, the fallback's
    every-term-must-appear match over title, summary and search text, with the summary
    as the snippet."""
    if connection.vendor == "postgresql":
        versions, count = _postgres_translation_matches(query.text, language)
        paginator = Paginator(versions, PAGE_SIZE)
        paginator.__dict__["count"] = count  # known: no count query
        result = paginator.get_page(page)
        result.capped = count >= RANK_LIMIT
        result.object_list = [
            _translation_hit(version, snippet=_headline_snippet(version))
            for version in result.object_list
        ]
        return result
    groups = _fallback_terms(query.text)
    if not groups:
        return Paginator([], PAGE_SIZE).get_page(1)
    versions = (
        _live_translation_versions(language)
        .select_related("translation__article", "source_version")
        .filter(_fallback_condition(groups))
        .only(
            "title",
            "summary",
            "language",
            "translation__article__slug",
            "source_version__last_reviewed",
        )
        .order_by("title", "pk")
    )
    result = Paginator(versions, PAGE_SIZE).get_page(page)
    result.object_list = [
        _translation_hit(version, snippet=escape(version.summary)) for version in result.object_list
    ]
    return result


def _live_translation_versions(language: str) -> QuerySet:
    """Translation versions in `language` that are the live page of a translation of a
    live article."""
    return TranslationVersion.objects.filter(
        language=language,
        translation__live_version=F("pk"),
        translation__article__live_version__isnull=False,
    )


class StoredTranslationVector(Expression):
    """The `search_vector` column migration 0014 generates on translation versions on
    PostgreSQL, in the configuration of each version's language."""

    def __init__(self):
        from django.contrib.postgres.search import SearchVectorField

        super().__init__(output_field=SearchVectorField())

    def as_sql(self, compiler, connection):
        table = compiler.quote_name(TranslationVersion._meta.db_table)
        return f"{table}.search_vector", []


def _postgres_translation_matches(text: str, language: str) -> tuple[QuerySet, int]:
    """As `_postgres_matches`: the ids of the RANK_LIMIT most recently approved
    matching live versions (no count query), then those ranked, with a headline for
    the rows on the page."""
    from django.contrib.postgres.search import SearchQuery as TsQuery
    from django.contrib.postgres.search import SearchRank

    config = TRANSLATION_SEARCH_CONFIGS.get(language, "simple")
    tsquery = TsQuery(text, search_type="websearch", config=config)
    # As `_postgres_candidates`: the live versions as a plain list of ids (the live
    # version of each translation of a live article), which the planner can semi-join
    # after the GIN match for a rare word, or walk for a frequent one.
    live = ArticleTranslation.objects.filter(
        language=language, article__live_version__isnull=False
    ).values("live_version")
    ids = list(
        TranslationVersion.objects.filter(language=language, pk__in=live)
        .alias(document=StoredTranslationVector())
        .filter(document=tsquery)
        .order_by("-approved_at", "-pk")
        .values_list("pk", flat=True)[:RANK_LIMIT]
    )
    ranked = (
        TranslationVersion.objects.filter(pk__in=ids)
        .select_related("translation__article", "source_version")
        .annotate(
            rank=SearchRank(StoredTranslationVector(), tsquery),
            headline=_headline(tsquery, config),
        )
        .only(
            "title",
            "summary",
            "language",
            "approved_at",
            "translation__article__slug",
            "source_version__last_reviewed",
        )
        .order_by("-rank", "-approved_at", "title", "pk")
    )
    return ranked, len(ids)


def _headline_snippet(version) -> SafeString:
    headline = version.headline or ""
    # Without a mark the words matched only the title or summary: show the summary.
    return _marked(headline) if _MARK_OPEN in headline else escape(version.summary)


def _translation_hit(version, *, snippet) -> SearchHit:
    return SearchHit(
        slug=version.translation.article.slug,
        title=version.title,
        summary=version.summary,
        snippet=snippet,
        last_reviewed=version.source_version.last_reviewed,
        language=version.language,
    )


def _marked(headline: str) -> SafeString:
    escaped = escape(headline).replace(_MARK_OPEN, "<mark>").replace(_MARK_CLOSE, "</mark>")
    return mark_safe(escaped)  # noqa: S308 - escaped above; only our own markers are HTML


# Fallback (SQLite) ---------------------------------------------------------------------

_TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_EDGES_RE = re.compile(r"^[\W_]+|[\W_]+$")  # punctuation around a term: "PTSD," -> "PTSD"
TITLE_WEIGHT, SUMMARY_WEIGHT, BODY_WEIGHT = 8, 4, 1


def _fallback_terms(text: str) -> list[list[tuple[str, bool]]]:
    """Split websearch-style input into OR-groups of (term, negated) pairs."""
    groups: list[list[tuple[str, bool]]] = [[]]
    count = 0
    for match in _TOKEN_RE.finditer(text):
        negated, phrase, word = match.group(1) == "-", match.group(2), match.group(3)
        if word is not None:
            if word.lower() == "or" and groups[-1]:
                groups.append([])
                continue
            negated = word.startswith("-")
            term = _EDGES_RE.sub("", word.lstrip("-"))
        else:
            term = _EDGES_RE.sub("", " ".join(phrase.split()))
        if not term or not any(ch.isalnum() for ch in term) or count >= MAX_TERMS:
            continue
        groups[-1].append((term, negated))
        count += 1
    groups = [group for group in groups if any(not negated for _, negated in group)]
    return groups


def _headline(tsquery, config: str):
    """The result snippet: up to two fragments of the stored search text around the
    matches, highlights marked for `_headline_snippet`. English and translations alike."""
    from django.contrib.postgres.search import SearchHeadline

    return SearchHeadline(
        "search_text",
        tsquery,
        config=config,
        start_sel=_MARK_OPEN,
        stop_sel=_MARK_CLOSE,
        max_words=30,
        min_words=12,
        max_fragments=2,
        fragment_delimiter=" … ",
    )


def _fallback_condition(groups) -> Q:
    """Any group matches; within a group every term appears (or, negated, does not) in
    the title, summary or search text. Shared by English and translation versions."""
    condition = Q()
    for group in groups:
        group_condition = Q()
        for term, negated in group:
            matches = (
                Q(title__icontains=term)
                | Q(summary__icontains=term)
                | Q(search_text__icontains=term)
            )
            group_condition &= ~matches if negated else matches
        condition |= group_condition
    return condition


def _fallback_matches(groups):
    if not groups:
        return ArticleVersion.objects.none()
    condition = _fallback_condition(groups)
    rank = Value(0)
    for group in groups:
        for term, negated in group:
            if negated:
                continue
            for field, weight in (
                ("title", TITLE_WEIGHT),
                ("summary", SUMMARY_WEIGHT),
                ("search_text", BODY_WEIGHT),
            ):
                rank = rank + Case(
                    When(**{f"{field}__icontains": term}, then=Value(weight)),
                    default=Value(0),
                    output_field=IntegerField(),
                )
    return (
        _live_versions()
        .filter(condition)
        .annotate(rank=rank)
        .only("title", "summary", "last_reviewed", "search_text", "article__slug")
        .order_by("-rank", "-last_reviewed", "title", "pk")
    )


def _fallback_hit(version, terms: list[str]) -> SearchHit:
    return SearchHit(
        slug=version.article.slug,
        title=version.title,
        summary=version.summary,
        snippet=snippet_around(version.search_text, terms)
        or snippet_around(version.summary, terms, whole=True),
        last_reviewed=version.last_reviewed,
    )


def snippet_around(text: str, terms: list[str], *, whole: bool = False) -> SafeString:
    """An escaped excerpt of `text` around the first term found, with every term
    marked. Empty when no term occurs (unless `whole`, which returns all of `text`)."""
    if not terms:
        return escape(text) if whole else SafeString("")
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    first = pattern.search(text)
    if first is None:
        return escape(text) if whole else SafeString("")
    start, end = 0, len(text)
    if not whole:
        start = max(0, first.start() - SNIPPET_CHARS // 3)
        end = min(len(text), max(start + SNIPPET_CHARS, first.end()))
        if start > 0:
            space = text.find(" ", start, first.start())
            start = space + 1 if space != -1 else start
        if end < len(text):
            space = text.rfind(" ", first.end(), end)
            end = space if space != -1 else end
    excerpt = text[start:end].replace("\n", " ")
    parts, position = [], 0
    for match in pattern.finditer(excerpt):
        parts.append(escape(excerpt[position : match.start()]))
        parts.append(f"<mark>{escape(match.group(0))}</mark>")
        position = match.end()
    parts.append(escape(excerpt[position:]))
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    return mark_safe(prefix + "".join(parts) + suffix)  # noqa: S308 - every part escaped


__all__ = [
    "PAGE_SIZE",
    "SearchHit",
    "SearchQuery",
    "search_published",
    "search_query_clean",
    "snippet_around",
]
