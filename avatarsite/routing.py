"""WebSocket routes."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from conversation.edge.consumer import AvatarConsumer
from handoff.console import ConsoleConsumer

websocket_urlpatterns = [
    path("ws/avatar/<slug:slug>/", AvatarConsumer.as_asgi()),
    # The agents' console signs in with the Django session cookie: only pages of this site
    # (Origin among ALLOWED_HOSTS) may open it, so another site cannot ride on the cookie.
    path(
        "ws/handoff/console/",
        AllowedHostsOriginValidator(AuthMiddlewareStack(ConsoleConsumer.as_asgi())),
    ),
]
