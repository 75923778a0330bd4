"""Public views: thin glue around selectors and stored, pre-rendered version HTML.

Every public page goes through `caching.public_page` (HTTP validators and lifetimes,
the application cache) and reads only published versions through `selectors`.
Public views never write.
"""

import re
from types import SimpleNamespace

from django.conf import settings
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from articles.models import Topic
from publicsite import selectors
from publicsite.caching import last_modified, public_page
from publicsite.search import search_published, search_query_clean
from publicsite.structured_data import medical_web_page, web_site

LIST_PAGE_SIZE = 30
# Pages that mention suicide get the help first (safe-messaging practice).
_SUICIDE_RE = re.compile(r"suicid", re.IGNORECASE)
_INLINE_MARKUP_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)|[*_`]")


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


def version_topics(version) -> list[SimpleNamespace]:
    """The topics of a version as its reviewer approved them (slug and name from the
    snapshot), not the draft's or the topic's current name. Versions approved before the
    snapshot carried names fall back to the current names (one query)."""
    slugs = version.snapshot.get("topics") or []
    names = dict(version.snapshot.get("topic_names") or {})
    if missing := [slug for slug in slugs if slug not in names]:
        names.update(Topic.objects.filter(slug__in=missing).values_list("slug", "name"))
    return [SimpleNamespace(slug=slug, name=names[slug]) for slug in slugs if slug in names]


@require_safe
@public_page
def article_detail(request, slug):
    article = selectors.published_article(slug=slug)
    if article is None:
        raise Http404("No published article here.")
    version = article.live_version
    if version is None:
        response = render(request, "articles/withdrawn.html", {"article": article}, status=410)
        return last_modified(response, article.updated_at)
    history = list(selectors.published_history(article=article)[:10])
    topics = version_topics(version)
    first_published = history[-1].published_at if history and history[-1].number == 1 else None
    response = render(
        request,
        "articles/article_detail.html",
        {
            "article": article,
            "version": version,
            "topics": topics,
            "history": history,
            "contents": _contents(version, has_history=bool(history)),
            "report_claims": version_claims(version),
            "mentions_suicide": bool(
                _SUICIDE_RE.search(version.html) or _SUICIDE_RE.search(version.summary)
            ),
            "canonical_url": _canonical(request, article.get_absolute_url()),
            "structured_data": medical_web_page(
                request,
                article=article,
                version=version,
                topics=topics,
                first_published=first_published,
            ),
        },
    )
    return last_modified(response, version.published_at)


def _contents(version, *, has_history: bool) -> list[tuple[str, str]]:
    """The table of contents, from the version's own sections: (anchor, heading)."""
    entries = [
        (section["anchor"], _INLINE_MARKUP_RE.sub(r"\1", section["heading"]).strip())
        for section in version.snapshot.get("sections", [])
        if section.get("heading")
    ]
    if 'id="references"' in version.html:
        entries.append(("references-section", "References"))
    if has_history:
        entries.append(("what-changed", "What changed"))
    return entries


@require_safe
@public_page(max_age=60, s_maxage=300, query_params=("q", "page"))
def search(request):
    query = search_query_clean(request.GET.get("q"))
    results = search_published(query=query, page=request.GET.get("page"))
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


def version_claims(version) -> list[dict]:
    """The claims of a published version, in order, from its snapshot."""
    return list(version.snapshot.get("claims", []))
