"""The channel between a reply's speaker and its emitter: audio chunks waiting for their frames,
the subtitles that go out with them, and what was played (the canned clip, if all had lips)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from uuid import UUID

from contracts.messages import FramesReady, RenderFailed
from conversation.cancellation import wait_event
from conversation.canned.clips import ClipSentence, StoredClip, encode
from conversation.protocol import MediaChunk, Subtitle
from conversation.reply.media import MediaAssembler, PendingChunk, Released


class ReplyMedia:
    def __init__(
        self, turn_id: UUID, *, on_first_frames: Callable[[float], None] | None = None
    ) -> None:
        self.turn_id = turn_id
        self._on_first_frames = on_first_frames  # called with when the first chunk was queued
        self._assembler = MediaAssembler(turn_id)
        self._wakeup = asyncio.Event()
        # Subtitles wait for the chunk they start in; a sentence TTS could not speak waits
        # for the next chunk, so one seq may hold several (in sentence order).
        self._subtitles: dict[int, list[Subtitle]] = {}
        self._sentences: list[ClipSentence] = []
        self._played: list[MediaChunk] = []
        self._next_seq = 0
        self.first_queued_at: float | None = None  # when the first chunk went to lip-sync

    # --- the speaker's side ----------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def queue(self, pending: PendingChunk, subtitle: Subtitle | None) -> None:
        """A chunk of audio on its way to lip-sync; `subtitle` when its sentence starts in it."""
        if pending.seq != self._next_seq:
            raise ValueError(f"chunk {pending.seq} queued out of order")
        self._next_seq += 1
        if subtitle is not None:
            self._subtitles.setdefault(pending.seq, []).append(subtitle)
            self._sentences.append(ClipSentence(pending.seq, subtitle.sentence, subtitle.text))
        self._assembler.add(pending)
        if self.first_queued_at is None:
            self.first_queued_at = time.monotonic()
        self._wakeup.set()

    def subtitle_without_audio(self, subtitle: Subtitle) -> bool:
        """A sentence TTS could not speak, keyed to the chunk after it: True when it should be
        shown now (nothing is queued before it), else it goes out with that chunk."""
        if subtitle.seq == self._assembler.released_count:
            return True
        self._subtitles.setdefault(subtitle.seq, []).append(subtitle)
        return False

    def close(self) -> None:
        """No more chunks will come."""
        self._assembler.close_input()
        self._wakeup.set()

    # --- replies from the lip-sync workers ---------------------------------------------------

    def on_frames(self, message: FramesReady) -> bool:
        """False when stale (another turn, already released, a duplicate)."""
        accepted = self._woken(self._assembler.on_frames(message))
        if accepted and self._on_first_frames and self.first_queued_at is not None:
            self._on_first_frames(self.first_queued_at)
            self._on_first_frames = None
        return accepted

    def on_failed(self, message: RenderFailed) -> bool:
        return self._woken(self._assembler.on_failed(message))

    def _woken(self, accepted: bool) -> bool:
        if accepted:
            self._wakeup.set()
        return accepted

    def outstanding_task_ids(self) -> list[str]:
        return self._assembler.outstanding_task_ids()

    # --- the emitter's side ----------------------------------------------------------------

    async def wait(self, timeout: float | None) -> None:
        """Until something changes (a chunk queued, frames in, input closed) or `timeout`."""
        self._wakeup.clear()
        await wait_event(self._wakeup, timeout)

    def release(self, now: float, *, needed_at: float | None) -> list[Released]:
        return self._assembler.release(now, needed_at=needed_at)

    def next_deadline(self, *, needed_at: float | None) -> float | None:
        return self._assembler.next_deadline(needed_at=needed_at)

    def settled(self, now: float) -> bool:
        return self._assembler.settled(now)

    @property
    def done(self) -> bool:
        return self._assembler.done

    def subtitles_for(self, seq: int) -> list[Subtitle]:
        return self._subtitles.pop(seq, [])

    def leftover_subtitles(self) -> list[Subtitle]:
        """Sentences that TTS could not speak after the last chunk, in order."""
        return [s for seq in sorted(self._subtitles) for s in self._subtitles.pop(seq)]

    def played(self, chunk: MediaChunk) -> None:
        self._played.append(chunk)

    def clip(self) -> StoredClip | None:
        """The reply as a canned clip, when anything played with lips."""
        return encode(self._played, self._sentences) if self._played else None
