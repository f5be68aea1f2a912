"""HTTP routes."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path, re_path

from avatarsite.http import views
from handoff import views as handoff_views

admin.site.site_header = "Avatar service"
admin.site.site_title = "Avatar service admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("api/sessions", views.session_token, name="session-token"),
    path("handoff/console/", handoff_views.console, name="handoff-console"),
    path("admin/", admin.site.urls),
    re_path(r"^media/(?P<path>.*)$", views.public_media, name="media"),
    re_path(r"^private-media/(?P<path>.*)$", views.private_media, name="private-media"),
]
