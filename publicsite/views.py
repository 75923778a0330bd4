"""Public views: thin glue around selectors and stored, pre-rendered version HTML.

Every public page goes through `caching.public_page` (HTTP validators and lifetimes,
the application cache) and reads only published versions through `selectors`.
Public views never write.
"""

from django.conf import settings
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language, override
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from publicsite import selectors
from publicsite.article_page import (
    COLUMNS,
    page_for,
    page_structured_data,
    translation_page_render,
    translation_stored_key,
)
from publicsite.caching import last_modified, public_page
from publicsite.search import search_published, search_query_clean
from publicsite.structured_data import web_site

LIST_PAGE_SIZE = 30


def _canonical(request, path: str | None = None, *, page: int = 1) -> str:
    url = request.build_absolute_uri(path or request.path)
    return f"{url}?page={page}" if page > 1 else url


def _latest_published(articles) -> object:
    dates = [a.live_version.published_at for a in articles if a.live_version.published_at]
    return max(dates, default=None)


@require_safe
@public_page
def home(request):
    featured = selectors.featured_articles()
    recent = list(selectors.recently_reviewed_articles())
    response = render(
        request,
        "articles/home.html",
        {
            "featured": featured,
            "recent": recent,
            "topics": selectors.topics_with_articles(),
            "canonical_url": _canonical(request),
            "structured_data": web_site(request),
        },
    )
    return last_modified(response, _latest_published([*featured, *recent]))


@require_safe
@public_page(query_params=("page",))
def article_list(request):
    page = Paginator(selectors.published_articles(), LIST_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "articles/article_list.html",
        {
            "page_obj": page,
            "articles": page.object_list,
            "canonical_url": _canonical(request, page=page.number),
        },
    )


@require_safe
@public_page
def topic_list(request):
    return render(
        request,
        "articles/topic_list.html",
        {"topics": selectors.topics_with_articles(), "canonical_url": _canonical(request)},
    )


@require_safe
@public_page(query_params=("page",))
def topic_detail(request, slug):
    topic = selectors.topic(slug=slug)
    if topic is None:
        raise Http404("No such topic.")
    page = Paginator(selectors.topic_articles(topic=topic), LIST_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    if not page.paginator.count:  # a topic only drafts use is not public yet
        raise Http404("No published articles in this topic.")
    response = render(
        request,
        "articles/topic_detail.html",
        {
            "topic": topic,
            "page_obj": page,
            "articles": page.object_list,
            "canonical_url": _canonical(request, page=page.number),
        },
    )
    return last_modified(response, _latest_published(page.object_list))


@require_safe
@public_page
def article_detail(request, slug):
    """One query: the article with its live version and that version's stored page
    (publicsite/article_page.py); only the per-request parts render here. Under /es/,
    the article's published Spanish translation (`translation_detail`)."""
    if (language := get_language()) != settings.LANGUAGE_CODE:
        return translation_detail(request, slug=slug, language=language)
    article = selectors.article_page(slug=slug)
    if article is None:
        raise Http404("No published article here.")
    version = article.live_version
    if version is None:
        tombstone = {"title": article.title, "reason": article.withdrawn_reason}
        response = render(
            request,
            "articles/withdrawn.html",
            {"article": article, "tombstone": tombstone},
            status=410,
        )
        return last_modified(response, article.updated_at)
    page = page_for(article=article, version=version)
    response = render(
        request,
        "articles/article_detail.html",
        _article_context(
            request, article, version, page, page_languages=selectors.page_languages(article)
        ),
    )
    return last_modified(response, version.published_at)


def _article_context(request, article, version, page, **extra) -> dict:
    """What the article template needs, in English and in a translation."""
    return {
        "article": article,
        "version": version,
        "page": page,
        "canonical_url": _canonical(request, article.get_absolute_url()),
        "structured_data": page_structured_data(request, article=article, page=page),
        **extra,
    }


def _english_url(article) -> str:
    """The English page of `article` (reversed, not resolved again as translate_url does)."""
    with override(settings.LANGUAGE_CODE):
        return article.get_absolute_url()


def translation_detail(request, *, slug: str, language: str):
    """The published translation of a live article: one query (the translation, its
    live version's stored page, the English version it translates and the live English
    version), as the English page. The stored page is current while the English
    version it was stored under is live; otherwise (the English was re-published and
    the receiver has not stored the new one yet, or the templates changed) it is
    rendered for this request, the same HTML. Each claim whose English changed since
    the translated version carries a notice until a new translation version is
    published. 410 for a translation that was withdrawn, 404 when there never was one."""
    translation = selectors.translation_page(slug=slug, language=language, stored=True)
    if translation is None:
        raise Http404("No published translation of this article.")
    if not translation.is_live:
        return translation_withdrawn(request, translation=translation)
    article, version = translation.article, translation.live_version
    current = article.live_version
    key = translation_stored_key(slug=slug, language=language, english_version_id=current.pk)
    if version.page_key == key:
        page = {part: getattr(version, column) for part, column in COLUMNS.items()}
        stale_count = version.page_stale or 0
    else:
        fresh = selectors.translation_page(slug=slug, language=language)
        if fresh is None or not fresh.is_live:  # withdrawn between the two reads
            raise Http404("No published translation of this article.")
        page, stale = translation_page_render(translation=fresh)
        stale_count = len(stale)
    response = render(
        request,
        "articles/article_detail.html",
        _article_context(
            request,
            article,
            version,
            page,
            stale_count=stale_count,
            english_url=_english_url(article),
            page_languages=[settings.LANGUAGE_CODE, language],
        ),
    )
    return last_modified(response, max(version.published_at, current.published_at))


def translation_withdrawn(request, *, translation):
    """410 with the tombstone in the translation's language, as the English page does
    for a withdrawn article. Withdrawn with its article, the reason given is the
    article's (written in English); withdrawn on its own, the English page is still
    there and is offered."""
    article = translation.article
    if article.live_version_id is None:
        tombstone = {"reason": article.withdrawn_reason, "reason_language": settings.LANGUAGE_CODE}
    else:
        tombstone = {
            "reason": translation.withdrawn_reason,
            "english_url": _english_url(article),
        }
    tombstone["title"] = translation.published_title
    response = render(
        request,
        "articles/withdrawn.html",
        {"article": article, "tombstone": tombstone},
        status=410,
    )
    return last_modified(response, max(article.updated_at, translation.updated_at))


@require_safe
@public_page(max_age=60, s_maxage=300, query_params=("q", "page"))
def search(request):
    query = search_query_clean(request.GET.get("q"))
    language = get_language()
    results = search_published(
        query=query,
        page=request.GET.get("page"),
        language=language if language in selectors.translation_languages() else None,
    )
    return render(
        request,
        "articles/search.html",
        {
            "query": query,
            "page_obj": results,
            "results": results.object_list,
            "query_string": urlencode({"q": query.text}),
            "canonical_url": _canonical(request),
        },
    )


@require_safe
@public_page(max_age=3600)
def editorial_policy(request):
    return render(
        request,
        "articles/editorial_policy.html",
        {
            "canonical_url": _canonical(request),
            "reading_grade": settings.PTSDINFO_READING_GRADE_TARGET,
        },
    )


@require_safe
@public_page(max_age=3600)
def about(request):
    return render(
        request,
        "articles/about.html",
        {"canonical_url": _canonical(request), "publisher": settings.PTSDINFO_PUBLISHER},
    )


@require_safe
@public_page(max_age=3600)
def robots_txt(request):
    sitemap = request.build_absolute_uri(reverse("articles:sitemap"))
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /editor/",
        "",
        f"Sitemap: {sitemap}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


@never_cache
@require_safe
def healthz(request):
    """200 when the database answers, 503 otherwise: for load balancers and HEALTHCHECK."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")
