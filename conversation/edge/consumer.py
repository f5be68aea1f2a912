"""The WebSocket consumer: one per session. It validates and hands over; it never waits on work.

A Channels consumer handles one message at a time, so anything slow here would delay an
`interrupt` queued behind it: parsing is all `receive` does, the session's task does the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from avatars.selectors import AvatarUnavailable, Unavailable, consent_window
from avatars.services import avatar_group
from avatarsite.http import access
from avatarsite.infra import redis_clients
from contracts.messages import (
    AgentChat,
    AgentSays,
    AsrResult,
    DeskNotice,
    FramesReady,
    MessageError,
    RenderFailed,
)
from conversation import metrics
from conversation.cancellation import cancel_and_wait
from conversation.dialogue.gate import Transport
from conversation.dialogue.limits import SessionLimits
from conversation.dialogue.records import TurnRecorder
from conversation.dialogue.session import AudioFrame, Session
from conversation.edge.assembly import (
    SessionSetup,
    build_context,
    build_voice,
    load_session_setup,
    ready_message,
)
from conversation.protocol import (
    PROTOCOL_VERSION,
    AudioStart,
    AudioStop,
    ClientMessage,
    ErrorCode,
    ErrorMessage,
    Hello,
    ProtocolError,
    parse_client_message,
    validate_client_audio,
)
from conversation.voice.recognizer import QueueRecognizer

log = logging.getLogger(__name__)

_Reply = TypeVar("_Reply", FramesReady, RenderFailed, AsrResult, AgentSays, AgentChat, DeskNotice)


class CloseCode:
    PROTOCOL_VERSION = 4000
    ACCESS_REFUSED = 4003
    AVATAR_UNKNOWN = 4004
    AVATAR_UNAVAILABLE = 4009
    CONSENT_REVOKED = 4011
    TOO_MANY = 4029


WITHDRAWN_MESSAGE = "This assistant is no longer available. Thank you for your visit."


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _decoded(kind: type[_Reply], event: dict[str, Any]) -> _Reply | None:
    """A worker's message, typed; a malformed one is dropped (its chunk plays without lips)."""
    try:
        return kind.decode(event)
    except MessageError as error:
        log.warning("dropped a malformed %s message (%s)", event.get("type"), error)
        return None


@dataclass
class AudioWindow:
    """Audio is taken between `audio_start` and `audio_stop`, in the order the client sent them
    (the session handles them later, in the same order). Audio outside them is refused with
    `not_ready` once a second, like every repeated refusal: a client streaming without
    `audio_start` sends 50 frames a second."""

    open: bool = False
    warned_at: float = -1e9

    def follow(self, message: ClientMessage) -> None:
        if isinstance(message, AudioStart):
            self.open = True
        elif isinstance(message, AudioStop):
            self.open = False

    def refusal(self, now: float) -> ProtocolError | None:
        if now - self.warned_at < 1.0:
            return None
        self.warned_at = now
        return ProtocolError(ErrorCode.NOT_READY, "send audio_start before audio")


class AvatarConsumer(AsyncWebsocketConsumer):
    session: Session | None = None
    audio: AudioWindow
    session_task: asyncio.Task[None] | None = None
    guard_task: asyncio.Task[None] | None = None
    avatar_id: int | None = None
    seats: access.OriginSeats | None = None
    recognizer: QueueRecognizer | None = None

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        origin = _header(self.scope, b"origin")
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            if not access.origin_allowed(origin, _header(self.scope, b"host")):
                raise access.AccessRefused("This site may not embed the assistant.")
            access.token_check(query.get("token", [None])[0], avatar_slug=slug, origin=origin)
        except access.AccessRefused as refusal:
            log.info("session refused: %s", refusal.reason)
            metrics.SESSIONS_REFUSED.labels(reason="access").inc()
            await self.accept()
            await self.close(code=CloseCode.ACCESS_REFUSED, reason=refusal.reason)
            return
        try:
            setup: SessionSetup = await database_sync_to_async(load_session_setup)(slug)
        except AvatarUnavailable as refusal:
            code = (
                CloseCode.AVATAR_UNKNOWN
                if refusal.reason == Unavailable.UNKNOWN
                else CloseCode.AVATAR_UNAVAILABLE
            )
            await self.accept()
            await self._send_error(ErrorCode.NOT_READY, refusal.message, fatal=True)
            await self.close(code=code)
            return
        await self.accept()
        seats = access.OriginSeats(origin)
        if not await seats.take(redis_clients.async_client(), self.channel_name):
            metrics.SESSIONS_REFUSED.labels(reason="too_many").inc()
            await self._send_error(
                ErrorCode.RATE_LIMITED,
                "Too many conversations are open; try again soon.",
                fatal=True,
            )
            await self.close(code=CloseCode.TOO_MANY)
            return
        self.seats = seats
        self.avatar_id = setup.avatar.id
        await self.channel_layer.group_add(avatar_group(setup.avatar.id), self.channel_name)
        # Off the event loop: the first session of a process may wait for its models to load.
        voice = await asyncio.to_thread(build_voice, setup, self.channel_name)
        if isinstance(voice.recognizer, QueueRecognizer):
            self.recognizer = voice.recognizer  # its answers come back through this consumer
        self.session = Session(
            context_factory=lambda session: build_context(session, setup, self.channel_name),
            voice=voice,
            transport=Transport(
                send_text=self._send_text, send_bytes=self._send_bytes, close=self._close_with
            ),
            recorder=TurnRecorder(),
            limits=SessionLimits.from_settings(settings),
        )
        self.audio = AudioWindow()
        await self._send_text(ready_message(self.session, setup).model_dump_json())
        self.session_task = asyncio.create_task(self.session.run(), name="session")
        self.guard_task = asyncio.create_task(self._guard(setup.consent_until), name="guard")
        metrics.ACTIVE_SESSIONS.inc()

    async def _guard(self, consent_until: datetime | None) -> None:
        """Keep this session's seat and end the session the moment its avatar's consent expires."""
        while True:
            wait = access.HEARTBEAT_S
            if consent_until is not None:
                wait = min(wait, max(0.0, (consent_until - timezone.now()).total_seconds()))
            await asyncio.sleep(wait)
            if self.seats is not None:
                try:
                    await self.seats.refresh(redis_clients.async_client(), self.channel_name)
                    # Join again each beat: a Redis restart, or group_expiry, drops the membership.
                    await self.channel_layer.group_add(
                        avatar_group(self.avatar_id or 0), self.channel_name
                    )
                except Exception as error:  # Redis away: the seat ages out; the session goes on
                    log.warning("could not refresh the session's seat (%s)", type(error).__name__)
            if consent_until is not None and timezone.now() >= consent_until:
                window = await database_sync_to_async(consent_window)(self.avatar_id or 0)
                if not window.valid:
                    log.info("consent expired during the session; closing it")
                    await self._end_withdrawn()
                    return
                consent_until = window.until

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None:
            return
        try:
            if text_data is not None:
                message = parse_client_message(text_data)
                if isinstance(message, Hello) and message.protocol_version != PROTOCOL_VERSION:
                    await self._send_error(
                        ErrorCode.INVALID_FIELD,
                        f"this server speaks protocol version {PROTOCOL_VERSION}",
                        fatal=True,
                    )
                    await self.close(code=CloseCode.PROTOCOL_VERSION)
                    return
                self.session.offer(message)
                self.audio.follow(message)  # once queued: a refused audio_start opens nothing
            elif bytes_data is not None:
                pcm = validate_client_audio(bytes_data)
                if self.audio.open:
                    self.session.offer(AudioFrame(pcm))
                elif (refusal := self.audio.refusal(time.monotonic())) is not None:
                    raise refusal
        except ProtocolError as error:
            await self._send_text(error.to_message().model_dump_json())

    async def disconnect(self, code: int) -> None:
        if self.seats is not None:
            seats, self.seats = self.seats, None
            try:
                await seats.release(redis_clients.async_client(), self.channel_name)
            except Exception as error:  # Redis away: the seat ages out
                log.warning("could not release the session's seat (%s)", type(error).__name__)
        if self.guard_task is not None and self.guard_task is not asyncio.current_task():
            await cancel_and_wait(self.guard_task)
        if self.session is None:
            return
        if self.session_task is not None:
            await cancel_and_wait(self.session_task)
        await self.session.close()
        self.session = None
        metrics.ACTIVE_SESSIONS.dec()
        if self.avatar_id is not None:
            try:
                await self.channel_layer.group_discard(
                    avatar_group(self.avatar_id), self.channel_name
                )
            except RedisError:  # Redis away: the group went with it, or its entry ages out
                log.warning("could not leave the avatar's group (Redis unreachable)")

    # --- channel-layer events ------------------------------------------------------------

    # Channels dispatches on the message's `type`: that is the one dispatch; each handler
    # decodes its own typed message (contracts.messages) and hands it on.

    async def lipsync_frames(self, event: dict[str, Any]) -> None:
        if self.session is not None and (frames := _decoded(FramesReady, event)) is not None:
            self.session.on_frames(frames)

    async def lipsync_failed(self, event: dict[str, Any]) -> None:
        if self.session is not None and (failed := _decoded(RenderFailed, event)) is not None:
            self.session.on_render_failed(failed)

    async def asr_result(self, event: dict[str, Any]) -> None:
        if self.recognizer is not None and (result := _decoded(AsrResult, event)) is not None:
            self.recognizer.on_result(result)

    # From the agents' console (docs/handoff.md): into the inbox, in order with the client's.

    async def handoff_say(self, event: dict[str, Any]) -> None:
        self._from_console(_decoded(AgentSays, event))

    async def handoff_chat(self, event: dict[str, Any]) -> None:
        self._from_console(_decoded(AgentChat, event))

    async def handoff_notice(self, event: dict[str, Any]) -> None:
        self._from_console(_decoded(DeskNotice, event))

    def _from_console(self, message: AgentSays | AgentChat | DeskNotice | None) -> None:
        if self.session is not None and message is not None:
            try:
                self.session.offer(message)
            except ProtocolError:
                log.warning("a console message was dropped: the session's inbox is full")

    async def avatar_withdrawn(self, event: dict[str, Any]) -> None:
        await self._end_withdrawn()

    async def _end_withdrawn(self) -> None:
        if self.session is not None:
            await self.session.interrupt_for_server()
        await self._send_error(ErrorCode.NOT_READY, WITHDRAWN_MESSAGE, fatal=True)
        await self.close(code=CloseCode.CONSENT_REVOKED)

    # --- sending -------------------------------------------------------------------------

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def _send_bytes(self, data: bytes) -> None:
        await self.send(bytes_data=data)

    async def _close_with(self, code: int) -> None:
        await self.close(code=code)

    async def _send_error(self, code: ErrorCode, message: str, *, fatal: bool = False) -> None:
        await self._send_text(
            ErrorMessage(code=code, message=message, fatal=fatal).model_dump_json()
        )
