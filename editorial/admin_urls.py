"""Staff-only endpoints used by the admin editor. Non-staff get 404 from every one."""

from django.urls import path

from editorial import admin_views

app_name = "editor"

urlpatterns = [
    path("jsi18n/", admin_views.javascript_catalogue, name="jsi18n"),
    path("markdownify/", admin_views.markdownify, name="markdownify"),
    path("upload/", admin_views.upload, name="upload"),
    path("preview/<int:pk>/", admin_views.draft_preview, name="preview"),
    path("citations/search/", admin_views.citation_search, name="citation-search"),
    path("citations/add/", admin_views.citation_add, name="citation-add"),
    path("citations/status/", admin_views.citation_status, name="citation-status"),
]
