"""`/sitemap.xml`: the live articles (with the date their live version was published),
the topic pages and the fixed pages. Items are lists, so each section is one query."""

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from publicsite import selectors


class ArticleSitemap(Sitemap):
    changefreq = "monthly"
    priority = 0.8

    def items(self):
        return list(selectors.sitemap_articles())

    def lastmod(self, article):
        return article.live_version.published_at


class TopicSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.5

    def items(self):
        return list(selectors.topics_with_articles().only("slug"))

    def location(self, topic):
        return reverse("articles:topic", kwargs={"slug": topic.slug})


class PageSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.6

    def items(self):
        return [
            "home",
            "articles:list",
            "articles:topics",
            "articles:editorial_policy",
            "articles:about",
        ]

    def location(self, name):
        return reverse(name)


SITEMAPS = {"pages": PageSitemap, "articles": ArticleSitemap, "topics": TopicSitemap}
