"""What a turn needs from the outside world, as small interfaces with one real implementation each.

The turn logic (`turn.py`) talks to these only, so the same code serves live sessions and the
pre-rendering of canned answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from conversation.avatar import AvatarRuntime
from conversation.canned.clips import StoredClip
from conversation.reply.audio_chunks import LipSyncChunk


@dataclass(frozen=True)
class TurnTimeouts:
    llm_first_token_s: float = 2.5  # then the "one moment" answer plays while we keep waiting
    llm_total_s: float = 20.0  # then the hand-off answer
    llm_gap_s: float = 8.0  # longest silence between tokens before the stream counts as dead
    lipsync_s: float = 1.5  # frames later than this after queueing: the chunk goes audio-only
    tts_sentence_s: float = 10.0
    max_lead_s: float = 2.0  # how far ahead of playback media is sent


class RenderQueue(Protocol):
    async def submit(
        self,
        *,
        avatar: AvatarRuntime,
        turn_id: UUID,
        seq: int,
        chunk: LipSyncChunk,
        idle_start: int,
    ) -> str: ...

    async def cancel(self, *, turn_id: UUID, task_ids: list[str]) -> None: ...


class ClipStore(Protocol):
    async def lookup(self, cache_key: str) -> StoredClip | None: ...

    async def save(
        self, *, cache_key: str, avatar: AvatarRuntime, faq_entry_id: int | None, clip: StoredClip
    ) -> None: ...
