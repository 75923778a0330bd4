"""Read paths for the public views, with their joins decided once so each page costs a
fixed, small number of queries whatever the number of articles.

Readers only ever see published versions: every query here goes through
`Article.live_version` (set by publishing, cleared by withdrawal), so a draft, an
approved-but-unpublished version or a superseded version is never listed.
"""

import weakref

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils.translation import get_language

from articles.models import Article, ArticleTranslation, ArticleVersion, Topic, TranslationVersion

# What an article card needs: nothing of the (large) body, snapshot or search text.
_CARD_FIELDS = (
    "slug",
    "live_version__title",
    "live_version__summary",
    "live_version__last_reviewed",
    "live_version__next_review_due",
    "live_version__published_at",
)

# What the article page (and the withdrawn tombstone) reads of an article and its live
# version.
_PAGE_FIELDS = (
    "slug",
    "title",
    "status",
    "withdrawn_reason",
    "retraction_notice",
    "updated_at",
    "live_version__title",
    "live_version__summary",
    "live_version__published_at",
    "live_version__page_key",
    "live_version__page_meta",
    "live_version__page_body",
    "live_version__page_ld",
)

_NEVER_PUBLIC = [
    Article.Status.DRAFT,
    Article.Status.IN_REVIEW,
    Article.Status.CHANGES_REQUESTED,
    Article.Status.APPROVED,
]


def published_article(*, slug: str) -> Article | None:
    """The article with its live version (one query), or None when readers may not see it.

    Withdrawn articles are returned too (without a live version) so the view can show
    the tombstone; drafts that were never published are not. An article whose draft is
    back in review still has its live version, which is what readers see.
    """
    return (
        Article.objects.select_related("live_version")
        .defer("live_version__search_text")
        .filter(slug=slug)
        .exclude(live_version__isnull=True, status__in=_NEVER_PUBLIC)
        .first()
    )


def _translated(language: str) -> Exists:
    return Exists(
        ArticleTranslation.objects.filter(
            article=OuterRef("pk"), language=language, live_version__isnull=False
        )
    )


def _article_page_queryset(slug: str, languages: tuple[str, ...]) -> QuerySet[Article]:
    return (
        Article.objects.select_related("live_version")
        .only(*_PAGE_FIELDS)
        .annotate(**{f"translated_{code}": _translated(code) for code in languages})
        .filter(slug=slug)
        .exclude(live_version__isnull=True, status__in=_NEVER_PUBLIC)
        .order_by("pk")[:1]
    )


def article_page(*, slug: str) -> Article | None:
    """As `published_article`, for the article page: one query, with only what the page
    and the tombstone show, the live version's stored page (publicsite/article_page.py)
    and none of its large source columns (snapshot, html, search text).
    `translated_<code>` says whether it has a published translation in each language
    of `PTSDINFO_TRANSLATION_LANGUAGES` (for hreflang and the language switcher).

    The busiest query of the site: its SQL is built and compiled once per process and
    database (only the slug changes), which is most of the selector's cost (issue 16;
    docs/performance.md). `prepared_query` returns the ORM's own objects."""
    languages = tuple(translation_languages())
    return prepared_query(
        ("article_page", languages),
        lambda marker: _article_page_queryset(marker, languages),
        slug,
    )


def published_articles() -> QuerySet[Article]:
    """Every live article for the A to Z list, with what a card shows. In a translation
    language (/es/), only the articles with a published translation there, with its
    title and summary as `card_title` and `card_summary` (still one query)."""
    articles = Article.objects.live().select_related("live_version").only(*_CARD_FIELDS)
    if (language := _translation_language()) is None:
        return articles.order_by("live_version__title", "pk")
    return (
        articles.annotate(
            translated=FilteredRelation(
                "translations", condition=Q(translations__language=language)
            )
        )
        .filter(translated__live_version__isnull=False)
        .annotate(
            card_title=F("translated__live_version__title"),
            card_summary=F("translated__live_version__summary"),
        )
        .order_by("card_title", "pk")
    )


def _translation_language() -> str | None:
    """The active language when it is one articles are translated into (not English)."""
    language = get_language()
    return language if language in translation_languages() else None


def featured_articles(*, limit: int = 3) -> list[Article]:
    """The live articles named in `PTSDINFO_FEATURED_ARTICLES`, in that order, topped up
    with the most recently created live articles. One query."""
    slugs = list(getattr(settings, "PTSDINFO_FEATURED_ARTICLES", []))
    position = Case(
        *(When(slug=slug, then=Value(index)) for index, slug in enumerate(slugs)),
        default=Value(len(slugs)),
        output_field=IntegerField(),
    )
    return list(published_articles().order_by(position, "-created_at", "pk")[:limit])


def recently_reviewed_articles(*, limit: int = 5) -> QuerySet[Article]:
    """Live articles by the date a clinician last reviewed their published version."""
    return published_articles().order_by(
        "-live_version__last_reviewed", "-live_version__published_at", "pk"
    )[:limit]


def live_topics() -> QuerySet[Topic]:
    """Topics that have at least one live article, with how many (one query). In a
    translation language, only articles with a published translation there count."""
    live = Q(articles__live_version__isnull=False)
    if (language := _translation_language()) is not None:
        live &= Q(
            articles__translations__language=language,
            articles__translations__live_version__isnull=False,
        )
    return (
        Topic.objects.annotate(article_count=Count("articles", filter=live, distinct=True))
        .filter(article_count__gt=0)
        .order_by("name")
    )


def topics_with_articles() -> list[Topic]:
    """`live_topics`, named in the active language (`_topics_named`; one query)."""
    return _topics_named(live_topics(), _translation_language())


def topic(*, slug: str) -> Topic | None:
    """The topic at `slug`, named in the active language (one query)."""
    return next(
        iter(_topics_named(Topic.objects.filter(slug=slug)[:1], _translation_language())), None
    )


def _topics_named(topics: QuerySet[Topic], language: str | None) -> list[Topic]:
    """`topics`, evaluated, with `name` and `description` in `language` (a translation
    language, or None for English) from TopicTranslation, in the same query. A topic
    without a name there keeps its English name, and no description (the page then
    says what every topic page says, in the reader's language, rather than English)."""
    if language is None:
        return list(topics)
    topics = topics.annotate(
        local=FilteredRelation("translations", condition=Q(translations__language=language)),
        local_name=Coalesce(NullIf(F("local__name"), Value("")), F("name")),
        local_description=F("local__description"),
    )
    if not topics.query.is_sliced:
        topics = topics.order_by("local_name", "pk")
    named = list(topics)
    for each in named:
        each.name, each.description = each.local_name, each.local_description or ""
    return named


def topic_articles(*, topic: Topic) -> QuerySet[Article]:
    return published_articles().filter(topics=topic)


def feed_versions(*, limit: int = 20) -> QuerySet[ArticleVersion]:
    """The latest publications (first versions and re-reviewed versions) of articles
    that are still live, newest first, for the Atom feed."""
    return (
        ArticleVersion.objects.published()
        .filter(article__live_version__isnull=False)
        .select_related("article")
        .only(
            "number",
            "title",
            "summary",
            "change_summary",
            "reviewer_name",
            "reviewer_credentials",
            "last_reviewed",
            "published_at",
            "article__slug",
        )
        .order_by("-published_at", "-pk")[:limit]
    )


def sitemap_articles() -> QuerySet[Article]:
    """Live articles, with `translated_<code>` per translation language (alternates)."""
    return (
        Article.objects.live()
        .select_related("live_version")
        .only("slug", "live_version__published_at")
        .annotate(**{f"translated_{code}": _translated(code) for code in translation_languages()})
        .order_by("slug")
    )


def published_history(*, article: Article) -> QuerySet[ArticleVersion]:
    """The versions readers have seen, newest first, for the "What changed" list."""
    return (
        article.versions.published()
        .only("number", "published_at", "last_reviewed", "change_summary")
        .order_by("-number")
    )


def translation_languages() -> list[str]:
    """The languages articles are translated into, that the public site also speaks."""
    site = {code for code, _name in settings.LANGUAGES}
    return [code for code in settings.PTSDINFO_TRANSLATION_LANGUAGES if code in site]


def page_languages(article: Article) -> list[str]:
    """The languages `article`'s page exists in (from `article_page`'s annotations)."""
    return [settings.LANGUAGE_CODE] + [
        code for code in translation_languages() if getattr(article, f"translated_{code}", False)
    ]


# The large columns of the two English versions the Spanish page reads (the one it
# translates and the live one): only their snapshots are needed, to find stale claims.
_TRANSLATION_PAGE_DEFERRED = [
    f"{prefix}__{column}"
    for prefix in ("article__live_version", "live_version__source_version")
    for column in ("html", "search_text", "page_meta", "page_body", "page_ld")
]


# What the Spanish page does not read when its stored page is current: the snapshots
# (stale claims are stored with the page) and the large text of the translation.
_TRANSLATION_STORED_PAGE_DEFERRED = [
    "live_version__snapshot",
    "live_version__html",
    "live_version__search_text",
    "live_version__source_version__snapshot",
    "article__live_version__snapshot",
]


def translation_page(
    *, slug: str, language: str, stored: bool = False
) -> ArticleTranslation | None:
    """The translation of the article at `slug` in `language` that readers may see, with
    its live version, the English version it translates and the article's live English
    version (one query); None when it was never published.

    A translation that was published and is no longer live (withdrawn on its own, or
    with its article: a translation never outlives its source) is returned too, for
    the tombstone, with `published_title`, the title readers last saw; the view tells
    the two apart with `is_live`. `stored`: for the page, whose version-only parts are
    stored on the version (publicsite/article_page.py), without the snapshots and the
    translation's text, which only rendering it afresh needs."""
    last_published = TranslationVersion.objects.filter(
        translation=OuterRef("pk"), published_at__isnull=False
    ).order_by("-number")
    return (
        ArticleTranslation.objects.select_related(
            "article",
            "article__live_version",
            "live_version",
            "live_version__source_version",
        )
        .defer(
            *_TRANSLATION_PAGE_DEFERRED,
            *(_TRANSLATION_STORED_PAGE_DEFERRED if stored else ()),
        )
        .annotate(published_title=Subquery(last_published.values("title")[:1]))
        .filter(article__slug=slug, language=language, published_title__isnull=False)
        .exclude(article__live_version__isnull=True, article__status__in=_NEVER_PUBLIC)
        .annotate(
            is_live=ExpressionWrapper(
                Q(live_version__isnull=False, article__live_version__isnull=False),
                output_field=BooleanField(),
            )
        )
        .order_by()
        .first()
    )


def translation_feed_versions(*, language: str, limit: int = 20):
    """The latest published translation versions in `language` of translations and
    articles that are still live, newest first, for that language's Atom feed."""
    return (
        TranslationVersion.objects.filter(
            language=language,
            published_at__isnull=False,
            translation__live_version__isnull=False,
            translation__article__live_version__isnull=False,
        )
        .select_related("translation__article")
        .only("number", "title", "summary", "published_at", "translation__article__slug")
        .order_by("-published_at", "-pk")[:limit]
    )


# --- queries compiled once ----------------------------------------------------------------

_PREPARED: dict[tuple, tuple] = {}


class _Marker(str):
    """The stand-in for the one parameter that changes between calls."""


def prepared_query(key: tuple, queryset_for, value: str):
    """The first object of `queryset_for(value)`, or None, with the queryset built and
    compiled to SQL once per process and database for `key` (its other parameters must
    not change between calls). The row becomes objects exactly as the ORM's
    ModelIterable makes them (the same converters, deferred fields, fetch mode,
    select_related objects and annotations), by the compiler's own attributes; the
    tests compare it with the plain query, which a Django upgrade would break loudly."""
    from django.db import connections, router
    from django.db.models.query import _get_from_db, get_related_populators

    alias = router.db_for_read(Article)
    prepared = _PREPARED.get((alias, *key))
    if prepared is None:
        marker = _Marker("\0prepared\0")
        queryset = queryset_for(marker)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = [index for index, param in enumerate(params) if param is marker]
        if len(slots) != 1:  # the compiler copied or changed the parameter: no cache
            return queryset_for(value).first()
        prepared = (compiler, sql, list(params), slots[0], queryset._fetch_mode)
        _PREPARED[(alias, *key)] = prepared
    compiler, sql, params, slot, fetch_mode = prepared
    params = [*params]
    params[slot] = value
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    row = next(iter(compiler.results_iter([[row]])))
    klass_info, select = compiler.klass_info, compiler.select
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [column[0].target.attname for column in select[start:end]]
    instance = _get_from_db(klass_info["model"], fetch_mode)(alias, init_list, row[start:end])
    if fetch_mode.track_peers:
        instance._state.peers = [weakref.ref(instance)]
    for populator in get_related_populators(klass_info, select, alias, fetch_mode):
        populator.populate(row, instance)
    for name, position in compiler.annotation_col_map.items():
        setattr(instance, name, row[position])
    return instance
