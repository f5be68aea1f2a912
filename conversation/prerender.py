"""Pre-render an FAQ answer into a canned clip, through the same turn pipeline a session uses.

Runs on the speech queue: TTS here, lip-sync on the lipsync workers, frames back over a
channel of its own. A clip is stored only when every chunk came back with lips.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from avatars.models import FAQEntry
from conversation.assembly import load_session_setup
from conversation.cancellation import cancel_and_wait
from conversation.clip_store import DjangoClipStore
from conversation.llm.base import FaqMatch, LlmRequest
from conversation.ports import TurnTimeouts
from conversation.render_queue import CeleryRenderQueue
from conversation.tts.select import build_tts
from conversation.turn import Turn, TurnContext, run_turn

log = logging.getLogger(__name__)


class KnownAnswer:
    """An LLM stage that already knows the answer: the FAQ entry being pre-rendered."""

    name = "known-answer"

    def __init__(self, entry_id: int, answer: str) -> None:
        self.entry_id, self.answer = entry_id, answer

    def match(self, question: str, language: str) -> FaqMatch:
        return FaqMatch(entry_id=self.entry_id, answer=self.answer, score=1.0)

    async def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        yield self.answer


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


async def prerender_answer(*, avatar_slug: str, faq_entry_id: int, lipsync_timeout_s: float = 30.0) -> bool:
    """Render and store the entry's answer for the avatar; True when a clip exists afterwards."""
    setup = await database_sync_to_async(load_session_setup)(avatar_slug)
    entry = await database_sync_to_async(FAQEntry.objects.get)(pk=faq_entry_id)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    avatar = setup.avatar
    context = TurnContext(
        avatar=avatar,
        llm=KnownAnswer(entry.pk, entry.answer),
        tts=build_tts(avatar.tts_backend, settings.PIPER_VOICE, espeak_program=settings.ESPEAK_PROGRAM),
        renders=CeleryRenderQueue(channel),
        clips=DjangoClipStore(),
        timeouts=TurnTimeouts(lipsync_s=lipsync_timeout_s, max_lead_s=1e9),
        output=Collector(),
    )
    turn = Turn(turn_id=uuid.uuid4(), text=entry.question, language=avatar.language,
                started=time.monotonic(), idle_start=0)

    async def listen() -> None:
        while True:
            turn.on_lipsync(await layer.receive(channel))

    listener = asyncio.create_task(listen())
    try:
        await run_turn(turn, context)
    finally:
        await cancel_and_wait(listener)
    if turn.fallbacks:
        log.warning("pre-render of FAQ entry %s for %s fell back (%s); not stored",
                    faq_entry_id, avatar_slug, ",".join(turn.fallbacks))
    return turn.cache_hit or not turn.fallbacks
