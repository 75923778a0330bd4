from django.contrib import admin
from django.urls import include, path

from articles import security, views
from articles.admin import view_on_site

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # The public site: articles, topics, search, feed, sitemap, robots.txt, policy pages.
    path("", include("articles.urls")),
    # Staff-only editor endpoints (markdownx preview and upload); see articles/admin_views.py.
    path("editor/", include("articles.admin_urls")),
    # Second factor (enrol, verify) before the admin mount, which would claim the prefix.
    path("admin/2fa/", include(security.urls)),
    # The admin's "view on site" redirect, limited to staff who may view the model.
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(view_on_site),
        name="view_on_site_checked",
    ),
    path("admin/", admin.site.urls),
]
