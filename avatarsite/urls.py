"""HTTP routes."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path, re_path

from avatarsite.http import views
from avatarsite.http.favicon import favicon
from handoff import views as handoff_views
from monitoring.views import turn_charts_page

admin.site.site_header = "Avatar service"
admin.site.site_title = "Avatar service admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("metrics", views.metrics, name="metrics"),
    path("api/sessions", views.session_token, name="session-token"),
    path("handoff/console/", handoff_views.console, name="handoff-console"),
    path("admin/turn-charts/", admin.site.admin_view(turn_charts_page), name="turn-charts"),
    path("admin/", admin.site.urls),
    re_path(r"^media/(?P<path>.*)$", views.public_media, name="media"),
    re_path(r"^private-media/(?P<path>.*)$", views.private_media, name="private-media"),
]
