"""ASGI entry point: HTTP through Django, WebSockets through the Channels router."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avatarsite.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from avatarsite.routing import websocket_urlpatterns  # noqa: E402
from conversation.edge import warmup  # noqa: E402

warmup.start()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origins and tokens are checked by the consumer, which closes with 4003 so that a
        # browser page learns why (a refused handshake reaches it only as 1006).
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
