"""Pre-render an FAQ answer into a canned clip, through the same turn pipeline a session uses.

Runs on the speech queue: TTS here, lip-sync on the lipsync workers, frames back over a
channel of its own. A clip is stored only when every chunk came back with lips.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from channels import DEFAULT_CHANNEL_LAYER
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.conf import settings

from avatars.selectors import faq_entry_get
from contracts.messages import FramesReady, MessageError, RenderFailed
from conversation.canned.store import DjangoClipStore
from conversation.edge.assembly import load_session_setup
from conversation.llm.base import FaqMatch
from conversation.reply.pipeline import run_turn
from conversation.reply.ports import TurnTimeouts
from conversation.reply.render_queue import CeleryRenderQueue
from conversation.reply.turn import Turn, TurnContext
from conversation.tts.select import build_tts

log = logging.getLogger(__name__)

_DONE = "prerender.done"  # sent to the pre-render's own channel: its listener returns


class KnownAnswer:
    """A FAQ matcher that already knows the answer: the entry being pre-rendered."""

    def __init__(self, entry_id: int, answer: str) -> None:
        self.entry_id, self.answer = entry_id, answer

    def match(self, question: str, language: str, readings: Sequence[str] = ()) -> FaqMatch:
        return FaqMatch(entry_id=self.entry_id, answer=self.answer, score=1.0)


class Collector:
    """The turn's output when nobody listens: everything is accepted, nothing is sent."""

    def __init__(self) -> None:
        self.media = 0

    async def send_json(self, turn: Turn, message: Any) -> bool:
        return True

    async def send_media(self, turn: Turn, packed: bytes) -> bool:
        self.media += 1
        return True

    async def turn_speaking(self, turn: Turn) -> None:
        return None


async def prerender_answer(
    *, avatar_slug: str, faq_entry_id: int, lipsync_timeout_s: float = 30.0
) -> bool:
    """Render and store the entry's answer for the avatar; True when a clip exists afterwards."""
    setup = await database_sync_to_async(load_session_setup)(avatar_slug)
    entry = await database_sync_to_async(faq_entry_get)(faq_entry_id)
    # A layer of this call's own: a Celery task runs each call in a new event loop, and a
    # channel layer's receive state is bound to the loop that first received on it.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channel = await layer.new_channel()
    avatar = setup.avatar
    context = TurnContext(
        avatar=avatar,
        faq=KnownAnswer(entry.pk, entry.answer),
        llm=None,
        tts=build_tts(
            avatar.tts_backend, voices=setup.voices, espeak_program=settings.ESPEAK_PROGRAM
        ),
        renders=CeleryRenderQueue(channel),
        clips=DjangoClipStore(),
        timeouts=TurnTimeouts(lipsync_s=lipsync_timeout_s, max_lead_s=1e9),
        output=Collector(),
    )
    turn = Turn(
        turn_id=uuid.uuid4(),
        text=entry.question,
        # The entry's language, when the avatar speaks it: a Japanese answer in the Japanese voice.
        language=avatar.own_language(entry.language) or avatar.language,
        started=time.monotonic(),
        idle_start=0,
    )

    async def listen() -> None:
        while (message := await layer.receive(channel))["type"] != _DONE:
            try:
                if message["type"] == FramesReady.TYPE:
                    turn.media.on_frames(FramesReady.decode(message))
                elif message["type"] == RenderFailed.TYPE:
                    turn.media.on_failed(RenderFailed.decode(message))
            except MessageError as error:
                log.warning("pre-render dropped a malformed message (%s)", error)

    listener = asyncio.create_task(listen())
    try:
        await run_turn(turn, context)
    finally:
        await _stop_listening(layer, channel, listener)
    if turn.fallbacks:
        log.warning(
            "pre-render of FAQ entry %s for %s fell back (%s); not stored",
            faq_entry_id,
            avatar_slug,
            ",".join(turn.fallbacks),
        )
    return turn.cache_hit or not turn.fallbacks


async def _stop_listening(layer: Any, channel: str, listener: asyncio.Task[None]) -> None:
    """End the listener by a message, not by cancelling it: channels-redis can swallow a
    cancellation that lands while its first receive is still connecting, and the receive then
    never returns (seen with redis-py 8.1), which would hang the speech worker for good."""
    try:
        await layer.send(channel, {"type": _DONE})
        async with asyncio.timeout(10):
            await asyncio.shield(listener)
    except Exception as error:  # Redis away: nothing will arrive; cancelling is all that is left
        log.warning("pre-render listener stopped by cancellation (%s)", type(error).__name__)
        listener.cancel()
    finally:
        await layer.close_pools()
