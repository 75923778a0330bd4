"""Read paths for the public views, with their joins decided once so each page costs a
fixed, small number of queries."""

from django.db.models import QuerySet

from articles.models import Article, ArticleVersion, Topic


def published_article(*, slug: str) -> Article | None:
    """The article with its live version in one query, or None when readers may not see it.

    Withdrawn articles are returned too (without a live version) so the view can show
    the tombstone; drafts that were never published are not.
    """
    return (
        Article.objects.select_related("live_version")
        .filter(slug=slug)
        .exclude(live_version__isnull=True, status__in=_NEVER_PUBLIC)
        .first()
    )


_NEVER_PUBLIC = [
    Article.Status.DRAFT,
    Article.Status.IN_REVIEW,
    Article.Status.CHANGES_REQUESTED,
    Article.Status.APPROVED,
]


def published_articles() -> QuerySet[Article]:
    return (
        Article.objects.live()
        .select_related("live_version")
        .only(
            "slug",
            "title",
            "last_reviewed",
            "next_review_due",
            "live_version__title",
            "live_version__summary",
            "live_version__last_reviewed",
            "live_version__published_at",
        )
        .order_by("live_version__title")
    )


def topics_with_articles() -> QuerySet[Topic]:
    return Topic.objects.filter(articles__live_version__isnull=False).distinct().order_by("name")


def reviews_due(*, until) -> QuerySet[Article]:
    """Live articles whose next clinical review falls on or before `until` (overdue first)."""
    return (
        Article.objects.live()
        .filter(next_review_due__lte=until)
        .only("slug", "title", "last_reviewed", "next_review_due")
        .order_by("next_review_due", "slug")
    )


def published_history(*, article: Article) -> QuerySet[ArticleVersion]:
    """The versions readers have seen, newest first, for the "What changed" list."""
    return (
        article.versions.published()
        .only("number", "published_at", "last_reviewed", "change_summary")
        .order_by("-number")
    )
