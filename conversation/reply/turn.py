"""One turn of the conversation: answer text -> sentences -> TTS -> lip-sync -> the client.

Every stage streams into the next: the first sentence goes to TTS while the LLM still writes,
each ~1 s of audio goes to a lipsync worker as soon as it exists, and each chunk goes to the
client the moment its frames are back (or its deadline passes: audio over the idle loop).
The three stages (writer, speaker, emitter) run in one TaskGroup, so cancelling the turn stops
every stage at once; they pass sentences over a queue and chunks through the reply's media.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from avatars.clip_keys import canned_clip_key
from contracts.media import FPS
from conversation.llm.base import ChatTurn, FaqMatcher, LlmBackend
from conversation.protocol import Fallback
from conversation.reply.emitter import emit, play_stored
from conversation.reply.outbox import ReplyMedia
from conversation.reply.ports import AvatarRuntime, ClipStore, RenderQueue, TurnTimeouts
from conversation.reply.speaker import speak
from conversation.reply.writer import write_sentences
from conversation.tts.base import TtsBackend


class TurnOutput(Protocol):
    """The session side of a turn: every send passes its gate (nothing after `interrupted`)."""

    async def send_json(self, turn: Turn, message: Any) -> bool: ...

    async def send_media(self, turn: Turn, packed: bytes) -> bool: ...

    async def turn_speaking(self, turn: Turn) -> None: ...


@dataclass
class TurnContext:
    """What a turn's stages use; built once per session (edge/assembly.py)."""

    avatar: AvatarRuntime
    faq: FaqMatcher  # asked once per question: a match is answered from the FAQ
    llm: LlmBackend | None  # answers what the FAQ does not; None: the hand-off answer
    tts: TtsBackend
    renders: RenderQueue
    clips: ClipStore
    timeouts: TurnTimeouts
    output: TurnOutput
    system_prompt: str = ""
    # False only for the benchmark's baseline: the whole answer, then all of its speech, then
    # lip-sync of all of it, then the first media (REPLY_STREAMING=0).
    streaming: bool = True


@dataclass
class Turn:
    """One question and its answer: what the stages read, and what the turn record keeps."""

    turn_id: UUID
    text: str
    language: str
    started: float  # monotonic: the typed message arrived, or the user's speech ended
    idle_start: int
    history: tuple[ChatTurn, ...] = ()
    input_kind: str = "text"
    cancelled: bool = False
    cache_hit: bool = False
    fallbacks: list[Fallback] = field(default_factory=list)
    stage_ms: dict[str, float] = field(default_factory=dict)
    ttfw_ms: float | None = None
    answer_text: str = ""
    end_seq: int = 0  # one past the last media chunk sent
    media: ReplyMedia = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.media = ReplyMedia(self.turn_id, on_first_frames=self._first_frames)

    def mark(self, stage: str, *, since: float | None = None) -> None:
        """Record a stage's latency once, in ms since the turn started (or since `since`)."""
        if stage not in self.stage_ms:
            self.stage_ms[stage] = round((time.monotonic() - (since or self.started)) * 1000, 2)

    def fallback(self, kind: Fallback) -> None:
        if kind not in self.fallbacks:
            self.fallbacks.append(kind)

    def _first_frames(self, queued_at: float) -> None:
        self.mark("lipsync_first_frames_ms", since=queued_at)


async def run_turn(turn: Turn, ctx: TurnContext) -> None:
    """Answer the turn's text. Raises CancelledError when the turn is interrupted."""
    match = await asyncio.to_thread(ctx.faq.match, turn.text, turn.language)
    turn.mark("understand_ms")
    cache_key: str | None = None
    if match is not None:
        cache_key = canned_clip_key(
            avatar_id=ctx.avatar.id,
            baked_checksum=ctx.avatar.baked_checksum,
            voice=ctx.avatar.voice,
            renderer=ctx.avatar.renderer,
            text=match.answer,
        )
        stored = await ctx.clips.lookup(cache_key)
        turn.mark("cache_lookup_ms")
        if stored is not None:
            turn.cache_hit = True
            await play_stored(turn, ctx, stored)
            return
    async with asyncio.TaskGroup() as group:
        sentences: asyncio.Queue[Any] = asyncio.Queue()
        group.create_task(write_sentences(turn, ctx, match.answer if match else None, sentences))
        group.create_task(speak(turn, ctx, sentences, turn.media))
        group.create_task(emit(turn, ctx, turn.media))
    clip = turn.media.clip()
    if match is not None and cache_key and not turn.fallbacks and clip is not None:
        await ctx.clips.save(
            cache_key=cache_key, avatar=ctx.avatar, faq_entry_id=match.entry_id, clip=clip
        )


def idle_index_now(session_started: float, idle_frames: int) -> int:
    """The idle-cycle frame the widget shows now, if it started the loop with the session."""
    return int((time.monotonic() - session_started) * FPS) % max(1, idle_frames)
