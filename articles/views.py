"""Public views: thin glue around selectors and stored, pre-rendered version HTML."""

from django.db import DatabaseError, connection
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from articles import selectors
from articles.structured_data import medical_web_page


@require_safe
def home(request):
    return render(
        request,
        "articles/home.html",
        {"articles": selectors.published_articles(), "topics": selectors.topics_with_articles()},
    )


@require_safe
def article_list(request):
    return render(
        request, "articles/article_list.html", {"articles": selectors.published_articles()}
    )


@require_safe
def article_detail(request, slug):
    article = selectors.published_article(slug=slug)
    if article is None:
        raise Http404("No published article here.")
    version = article.live_version
    if version is None:
        return render(request, "articles/withdrawn.html", {"article": article}, status=410)
    return render(
        request,
        "articles/article_detail.html",
        {
            "article": article,
            "version": version,
            "history": selectors.published_history(article=article)[:10],
            "structured_data": medical_web_page(request, article=article, version=version),
        },
    )


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
