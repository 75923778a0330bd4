from django.contrib import admin
from django.urls import include, path

from articles import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("articles/", include("articles.urls")),
    path("admin/", admin.site.urls),
]
