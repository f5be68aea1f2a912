"""The WebSocket consumer: one per session. It validates and hands over; it never waits on work.

A Channels consumer handles one message at a time, so anything slow here would delay an
`interrupt` queued behind it: parsing is all `receive` does, the session's task does the rest.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from avatars.selectors import AvatarUnavailable, Unavailable
from avatars.services import avatar_group
from conversation import metrics
from conversation.assembly import SessionSetup, build_context, load_session_setup, ready_message
from conversation.cancellation import cancel_and_wait
from conversation.protocol import (
    PROTOCOL_VERSION,
    ErrorCode,
    ErrorMessage,
    Hello,
    ProtocolError,
    parse_client_message,
    validate_client_audio,
)
from conversation.records import TurnRecorder
from conversation.session import AudioFrame, Session, Transport

log = logging.getLogger(__name__)


class CloseCode:
    PROTOCOL_VERSION = 4000
    AVATAR_UNKNOWN = 4004
    AVATAR_UNAVAILABLE = 4009
    CONSENT_REVOKED = 4011


class AvatarConsumer(AsyncWebsocketConsumer):
    session: Session | None = None
    session_task: asyncio.Task[None] | None = None
    avatar_id: int | None = None

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
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
        self.avatar_id = setup.avatar.id
        await self.channel_layer.group_add(avatar_group(setup.avatar.id), self.channel_name)
        self.session = Session(
            context_factory=lambda session: build_context(session, setup, self.channel_name),
            transport=Transport(send_text=self._send_text, send_bytes=self._send_bytes),
            recorder=TurnRecorder(),
        )
        await self._send_text(ready_message(self.session, setup).model_dump_json())
        self.session_task = asyncio.create_task(self.session.run(), name="session")
        metrics.ACTIVE_SESSIONS.inc()

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
            elif bytes_data is not None:
                self.session.offer(AudioFrame(validate_client_audio(bytes_data)))
        except ProtocolError as error:
            await self._send_text(error.to_message().model_dump_json())

    async def disconnect(self, code: int) -> None:
        if self.session is None:
            return
        if self.session_task is not None:
            await cancel_and_wait(self.session_task)
        await self.session.close()
        self.session = None
        metrics.ACTIVE_SESSIONS.dec()
        if self.avatar_id is not None:
            await self.channel_layer.group_discard(avatar_group(self.avatar_id), self.channel_name)

    # --- channel-layer events ------------------------------------------------------------

    async def lipsync_frames(self, event: dict[str, Any]) -> None:
        if self.session is not None:
            self.session.on_lipsync(event)

    async def lipsync_failed(self, event: dict[str, Any]) -> None:
        if self.session is not None:
            self.session.on_lipsync(event)

    async def asr_result(self, event: dict[str, Any]) -> None:
        if self.session is not None:
            self.session.on_asr_result(event)

    async def avatar_withdrawn(self, event: dict[str, Any]) -> None:
        await self._send_error(
            ErrorCode.NOT_READY,
            "This assistant is no longer available. Thank you for your visit.",
            fatal=True,
        )
        await self.close(code=CloseCode.CONSENT_REVOKED)

    # --- sending -------------------------------------------------------------------------

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def _send_bytes(self, data: bytes) -> None:
        await self.send(bytes_data=data)

    async def _send_error(self, code: ErrorCode, message: str, *, fatal: bool = False) -> None:
        await self._send_text(
            ErrorMessage(code=code, message=message, fatal=fatal).model_dump_json()
        )
