"""A session wired to the real hand-off desk (database, channel layer) with scripted LLM, TTS
and lip-sync from the session tests: what a customer's session does about hand-offs."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

from channels.db import database_sync_to_async
from django.db import connections

from avatars.models import Avatar, FAQEntry
from conversation.dialogue.session import Session, Transport
from conversation.handoff.triage import HandOffRules, Triage
from conversation.llm.base import FaqMatch
from conversation.reply.ports import TurnTimeouts
from conversation.reply.turn import TurnContext
from handoff.desk import DeskForSession
from tests.conversation.dialogue.test_session import (
    AVATAR,
    FakeLipSync,
    ListRecorder,
    MemoryClips,
    ScriptedLlm,
    ToneTts,
    Wire,
)

__all__ = ["ScriptedLlm", "Wire", "Customer", "EntryMatcher"]


class EntryMatcher:
    """Matches the exact question of a real FAQ entry."""

    def __init__(self, *entries: FAQEntry) -> None:
        self.entries = {entry.question: entry for entry in entries}

    def match(self, question: str, language: str, readings: Sequence[str] = ()) -> FaqMatch | None:
        entry = self.entries.get(question)
        return FaqMatch(entry_id=entry.pk, answer=entry.answer, score=0.9) if entry else None


class Customer:
    """One session of a real avatar row; `say` runs a typed turn to its end."""

    def __init__(
        self,
        avatar: Avatar,
        *,
        faq: Any,
        llm: Any = None,
        rules: HandOffRules | None = None,
        language: str = "en",
    ) -> None:
        self.wire = Wire()
        self.lipsync = FakeLipSync()
        self.tts = ToneTts()
        runtime = dataclasses.replace(
            AVATAR, id=avatar.pk, slug=avatar.slug, language=language, languages=(language,)
        )
        self.channel = f"specific.test!{uuid.uuid4().hex[:8]}"

        def context(session: Session) -> TurnContext:
            return TurnContext(
                avatar=runtime,
                faq=faq,
                llm=llm,
                tts=self.tts,
                renders=self.lipsync,
                clips=MemoryClips(),
                timeouts=TurnTimeouts(max_lead_s=100.0),
                output=session.gate,
                triage=Triage(
                    desk=DeskForSession(
                        avatar_id=avatar.pk,
                        session_id=str(session.session_id),
                        channel_name=self.channel,
                    ),
                    rules=rules,
                    send=session.gate.send,
                ),
            )

        self.session = Session(
            context_factory=context,
            transport=Transport(send_text=self.wire.text, send_bytes=self.wire.binary),
            recorder=ListRecorder(),
        )
        self.lipsync.session = self.session
        self._runner: asyncio.Task[None] | None = None

    @property
    def triage(self) -> Triage:
        return self.session.context.triage

    def start(self) -> None:
        self._runner = asyncio.create_task(self.session.run())

    async def say(self, message: Any, *, until: str = "turn_end", timeout: float = 10) -> None:
        before = self.count(until)
        self.session.offer(message)
        async with asyncio.timeout(timeout):
            while self.count(until) <= before:
                await asyncio.sleep(0.01)

    def count(self, kind: str) -> int:
        return sum(1 for item in self.wire.items if isinstance(item, dict) and item["type"] == kind)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [i for i in self.wire.items if isinstance(i, dict) and i["type"] == kind]

    def spoken(self) -> list[str]:
        return list(self.tts.spoken)

    async def leave(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
        await self.session.close()


def play(scenario: Any) -> Any:
    """Run an async scenario from a sync test (Django's test database stays on this thread);
    the scenario's database threads close their connections after."""

    async def wrapped() -> Any:
        try:
            return await scenario
        finally:
            await database_sync_to_async(connections.close_all)()

    return asyncio.run(wrapped())
