"""HTTP routes."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import path, re_path
from django.views.static import serve

from avatarsite import views

admin.site.site_header = "Avatar service"
admin.site.site_title = "Avatar service admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # Idle clips and posters are small and public by design; a CDN or the reverse proxy
    # serves MEDIA_ROOT in front of this in production.
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]
