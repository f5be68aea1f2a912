"""A protocol v1 test client over a real WebSocket: every server message is validated."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import websockets
from django.db import connections

from conversation.protocol import MediaChunk, MediaKind, server_message_adapter


async def db_call(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run a database function off the event loop; its thread's connection is closed after
    (one left open would keep PostgreSQL from dropping the test database)."""

    def run() -> Any:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return await asyncio.to_thread(run)


def session_token(port: int, slug: str, origin: str | None) -> str:
    """POST /api/sessions as a page at `origin` would; raises HTTPError when refused."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/sessions",
        data=urlencode({"avatar": slug}).encode(),
        headers={"Origin": origin} if origin else {},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201, response.status
        return str(json.loads(response.read())["token"])


@dataclass
class Event:
    at: float
    message: Any  # a server pydantic message, or a MediaChunk
    raw: dict[str, Any] | None = None

    @property
    def type(self) -> str:
        if isinstance(self.message, MediaChunk):
            return f"media:{self.message.kind.name.lower()}"
        return str(self.message.type)


class AvatarClient:
    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.events: list[Event] = []

    @classmethod
    async def connect(
        cls, port: int, slug: str = "demo", *, origin: str | None = None, token: str | None = None
    ) -> AvatarClient:
        """Open a session the way the widget does: a token from POST /api/sessions, then the socket.

        `origin` defaults to the server's own; pass `token` to skip the request (to test refusals).
        """
        origin = origin or f"http://127.0.0.1:{port}"
        if token is None:
            token = await asyncio.to_thread(session_token, port, slug, origin)
        socket = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws/avatar/{slug}/?token={quote(token)}",
            origin=origin,  # type: ignore[arg-type]
            max_size=8 * 1024 * 1024,
        )
        return cls(socket)

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.socket.send(message if isinstance(message, str | bytes) else json.dumps(message))

    async def next_event(self, timeout: float) -> Event:
        data = await asyncio.wait_for(self.socket.recv(), timeout)
        if isinstance(data, bytes):
            event = Event(time.monotonic(), MediaChunk.unpack(data))
        else:
            raw = json.loads(data)
            event = Event(time.monotonic(), server_message_adapter.validate_python(raw), raw)
        self.events.append(event)
        return event

    async def until(self, done: Callable[[Event], bool], timeout: float = 60) -> list[Event]:
        """Events up to and including the first for which `done` is true."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            event = await self.next_event(max(0.01, deadline - time.monotonic()))
            seen.append(event)
            if done(event):
                return seen

    async def quiet_for(self, seconds: float) -> list[Event]:
        """Everything that arrives in the next `seconds`."""
        seen = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                seen.append(await self.next_event(left))
            except (TimeoutError, websockets.ConnectionClosed):
                break
        return seen

    async def close(self) -> None:
        await self.socket.close()


def media(events: list[Event]) -> list[MediaChunk]:
    return [e.message for e in events if isinstance(e.message, MediaChunk)]


def of_type(events: list[Event], kind: str) -> list[Any]:
    return [e.message for e in events if e.type == kind]


def is_turn_end(event: Event) -> bool:
    return event.type == "turn_end"


MEDIA_WITH_FRAMES = MediaKind.CHUNK
