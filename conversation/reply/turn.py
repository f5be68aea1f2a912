"""One turn of the conversation: the question, what its reply's stages use (TurnContext), and
what the turn record keeps. The stages themselves are in writer, speaker and emitter; pipeline
runs them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from contracts.media import FPS
from conversation.avatar import AvatarRuntime
from conversation.floor import Floor
from conversation.handoff.triage import Triage
from conversation.llm.base import ChatTurn, FaqMatcher, LlmBackend
from conversation.protocol import Fallback, MediaChunk, TurnEnd
from conversation.reply.outbox import ReplyMedia
from conversation.reply.ports import ClipStore, RenderQueue, TurnTimeouts
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
    # The system prompt of each language the avatar speaks (llm.system_prompts), its own first.
    system_prompts: Mapping[str, str] = field(default_factory=dict)
    # False only for the benchmark's baseline: the whole answer, then all of its speech, then
    # lip-sync of all of it, then the first media (REPLY_STREAMING=0).
    streaming: bool = True
    # When the customer goes to a person (conversation/handoff); off by default (pre-rendering).
    triage: Triage = field(default_factory=Triage)


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
    # Recognised in a language the avatar does not speak: it answers politely in `language`.
    heard_language: str | None = None
    # Other readings of a spoken question (the recognizer's runners-up): the FAQ match may
    # find it in one of them. Words, like `text`: never in the turn record.
    readings: tuple[str, ...] = field(default=(), repr=False)
    cancelled: bool = False
    cache_hit: bool = False
    fallbacks: list[Fallback] = field(default_factory=list)
    stage_ms: dict[str, float] = field(default_factory=dict)
    ttfw_ms: float | None = None
    answer_text: str = ""
    end_seq: int = 0  # one past the last media chunk sent
    # A spoken question's answer is heard only once the customer has left the floor.
    floor: Floor | None = field(default=None, repr=False)
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

    def exchange(self) -> list[ChatTurn]:
        """What the turn adds to the conversation's history (an LLM's context): the question
        and the answer, or only the words a person had the avatar say."""
        said = [ChatTurn("user", self.text)] if self.input_kind != "agent" else []
        return [turn for turn in [*said, ChatTurn("assistant", self.answer_text)] if turn.text]

    def end_marker(self) -> MediaChunk:
        """The media message after the last chunk the client got."""
        return MediaChunk(turn_id=self.turn_id, seq=self.end_seq, end=True)

    def end_message(self) -> TurnEnd:
        """What the client learns of a turn that played out."""
        return TurnEnd(
            turn_id=self.turn_id,
            ttfw_ms=self.ttfw_ms,
            fallbacks=tuple(self.fallbacks),
            cache_hit=self.cache_hit,
            interrupted=False,
        )

    def _first_frames(self, queued_at: float) -> None:
        self.mark("lipsync_first_frames_ms", since=queued_at)


def idle_index_now(session_started: float, idle_frames: int) -> int:
    """The idle-cycle frame the widget shows now, if it started the loop with the session."""
    return int((time.monotonic() - session_started) * FPS) % max(1, idle_frames)
