"""The public site's routes (mounted at the root by ptsdinfo/urls.py)."""

from django.contrib.sitemaps.views import sitemap
from django.urls import path

from publicsite import reports, views
from publicsite.caching import public_page
from publicsite.feeds import publications_feed
from publicsite.sitemaps import SITEMAPS

app_name = "articles"

urlpatterns = [
    path("articles/", views.article_list, name="list"),
    path("articles/<slug:slug>/", views.article_detail, name="detail"),
    path("articles/<slug:slug>/report/", reports.report_problem, name="report"),
    path("topics/", views.topic_list, name="topics"),
    path("topics/<slug:slug>/", views.topic_detail, name="topic"),
    path("search/", views.search, name="search"),
    path("editorial-policy/", views.editorial_policy, name="editorial_policy"),
    path("about/", views.about, name="about"),
    path("feed/", public_page(publications_feed), name="feed"),
    path(
        "sitemap.xml",
        public_page(sitemap),
        {"sitemaps": SITEMAPS},
        name="sitemap",
    ),
    path("robots.txt", views.robots_txt, name="robots"),
]
