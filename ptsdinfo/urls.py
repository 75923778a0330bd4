from django.contrib import admin
from django.urls import include, path

from accounts import security
from publicsite import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # The public site: articles, topics, search, feed, sitemap, robots.txt, policy pages.
    path("", include("publicsite.urls")),
    # Staff-only editor endpoints (markdownx preview and upload); see articles/admin_views.py.
    path("editor/", include("articles.admin_urls")),
    # Second factor (enrol, verify) before the admin mount, which would claim the prefix.
    path("admin/2fa/", include(security.urls)),
    path("admin/", admin.site.urls),
]
