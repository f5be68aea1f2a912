"""WebSocket routes."""

from __future__ import annotations

from django.urls import path

from conversation.edge.consumer import AvatarConsumer

websocket_urlpatterns = [
    path("ws/avatar/<slug:slug>/", AvatarConsumer.as_asgi()),
]
