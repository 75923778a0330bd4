from django.contrib import admin
from django.urls import include, path

from articles import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("articles/", include("articles.urls")),
    # Staff-only editor endpoints (markdownx preview and upload); see articles/admin_views.py.
    path("editor/", include("articles.admin_urls")),
    path("admin/", admin.site.urls),
]
