"""`/sitemap.xml`: the live articles (with the date their live version was published),
the topic pages and the fixed pages. Items are lists, so each section is one query.

Every page is listed in each language it exists in, with its alternates
(`<xhtml:link rel="alternate" hreflang>`): the fixed and topic pages in every language of
the site, an article in English and in each language it has a published translation in.
"""

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from publicsite import selectors


class LanguagesSitemap(Sitemap):
    i18n = True
    alternates = True
    x_default = True

    @property
    def languages(self):
        return [code for code, _name in settings.LANGUAGES]


class ArticleSitemap(LanguagesSitemap):
    changefreq = "monthly"
    priority = 0.8

    def get_languages_for_item(self, article):
        return selectors.page_languages(article)

    def items(self):
        return list(selectors.sitemap_articles())

    def lastmod(self, article):
        return article.live_version.published_at


class TopicSitemap(LanguagesSitemap):
    changefreq = "weekly"
    priority = 0.5

    def items(self):
        return list(selectors.live_topics().only("slug"))

    def location(self, topic):
        return reverse("articles:topic", kwargs={"slug": topic.slug})


class PageSitemap(LanguagesSitemap):
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
