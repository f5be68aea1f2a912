"""WebSocket routes. The conversation consumer registers its path here."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
