from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path, re_path

from accounts import language, security
from editorial.admin import view_on_site
from ptsdinfo import health, media
from publicsite import views

# The public site in every language: English at the root, Spanish under /es/ (the same
# routes, so /es/articles/<slug>/ is the Spanish page of /articles/<slug>/; docs/i18n.md).
public = i18n_patterns(
    path("", views.home, name="home"),
    path("", include("publicsite.urls")),
    prefix_default_language=False,
)

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Uploads, when no nginx serves them (one container on its own): ptsdinfo/media.py.
    re_path(r"^media/(?P<path>.+)$", media.media, name="media"),
    # Staff-only editor endpoints (markdownx preview and upload); see editorial/admin_views.py.
    path("editor/", include("editorial.admin_urls")),
    # Second factor (enrol, verify) before the admin mount, which would claim the prefix.
    path("admin/2fa/", include(security.urls)),
    # Each staff member's choice of the admin's language (accounts/language.py).
    path("admin/language/", language.interface_language, name="interface_language"),
    # The admin's "view on site" redirect, limited to staff who may view the model.
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(view_on_site),
        name="view_on_site_checked",
    ),
    path("admin/", admin.site.urls),
    # The public site: articles, topics, search, feed, sitemap, robots.txt, policy pages.
    *public,
]
