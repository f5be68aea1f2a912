"""Joins each audio chunk of a turn with its lip-sync frames and releases chunks in `seq` order.

Frames come back from the lipsync workers over the channel layer, possibly out of order
(several workers) and possibly split in parts; a chunk whose frames are late, or whose render
failed, goes out as audio alone over the idle loop. Late means both past its deadline (the
lip-sync timeout after it was queued) and past the moment the client needs it: while the client
still has audio of earlier chunks to play, waiting for frames costs nothing. Pure: no I/O, no
clock of its own (callers pass `now`), so it is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from contracts.media import SAMPLE_RATE
from contracts.messages import FramesReady, RenderFailed
from conversation.protocol import ChunkFrame, MediaChunk


@dataclass
class PendingChunk:
    seq: int
    audio: bytes
    first_frame: int
    sentence: int
    deadline: float
    task_id: str | None = None
    parts: dict[int, list[ChunkFrame]] = field(default_factory=dict)
    parts_expected: int | None = None
    failed: bool = False

    @property
    def complete(self) -> bool:
        return self.parts_expected is not None and len(self.parts) == self.parts_expected

    def frames(self) -> tuple[ChunkFrame, ...]:
        return tuple(frame for part in sorted(self.parts) for frame in self.parts[part])


@dataclass(frozen=True)
class Released:
    chunk: MediaChunk
    sentence: int
    lipsync_late: bool  # audio only: frames missed the deadline or the render failed


class MediaAssembler:
    """Per-turn: `add` audio chunks as they are queued for lip-sync, `on_frames` as frames
    arrive, and `release(now)` whatever is ready, strictly in seq order."""

    def __init__(self, turn_id: UUID) -> None:
        self.turn_id = turn_id
        self._pending: dict[int, PendingChunk] = {}
        self._next_seq = 0
        self.closed_input = False

    def add(self, chunk: PendingChunk) -> None:
        if chunk.seq in self._pending or chunk.seq < self._next_seq:
            raise ValueError(f"chunk {chunk.seq} added twice")
        self._pending[chunk.seq] = chunk

    def close_input(self) -> None:
        """No more chunks will be added for this turn."""
        self.closed_input = True

    def on_frames(self, message: FramesReady) -> bool:
        """Take one part of a chunk's frames; False when stale (other turn, released, dup)."""
        pending = self._pending.get(message.seq)
        if message.turn_id != str(self.turn_id) or pending is None:
            return False
        if message.part in pending.parts:
            return False
        pending.parts_expected = message.parts
        pending.parts[message.part] = [
            ChunkFrame(idle_index=idle, box=box, jpeg=jpeg)
            for idle, box, jpeg in zip(
                message.idle_indices, message.boxes, message.jpegs, strict=True
            )
        ]
        return True

    def on_failed(self, message: RenderFailed) -> bool:
        pending = self._pending.get(message.seq)
        if message.turn_id != str(self.turn_id) or pending is None:
            return False
        pending.failed = True
        return True

    def release(self, now: float, *, needed_at: float | None = None) -> list[Released]:
        """Chunks that may go to the client now, in order; stops at the first still waiting.

        `needed_at`: when the client runs out of audio unless the next chunk has gone (None
        before the first chunk plays). Each chunk released pushes it back by its own audio.
        """
        out: list[Released] = []
        while (pending := self._pending.get(self._next_seq)) is not None:
            if pending.complete:
                late = False
            elif pending.failed or now >= _late_at(pending, needed_at):
                late = True
            else:
                break
            if needed_at is not None:
                needed_at += len(pending.audio) / 2 / SAMPLE_RATE
            del self._pending[self._next_seq]
            self._next_seq += 1
            frames = () if late else pending.frames()
            chunk = MediaChunk(
                turn_id=self.turn_id,
                seq=pending.seq,
                audio=pending.audio,
                first_frame=pending.first_frame,
                frames=frames,
            )
            out.append(Released(chunk=chunk, sentence=pending.sentence, lipsync_late=late))
        return out

    def settled(self, now: float) -> bool:
        """All chunks are in and each has its frames, failed, or is past its deadline."""
        return self.closed_input and all(
            p.complete or p.failed or now >= p.deadline for p in self._pending.values()
        )

    def next_deadline(self, *, needed_at: float | None = None) -> float | None:
        """When the next chunk goes out without its frames, if they have not come by then."""
        pending = self._pending.get(self._next_seq)
        return None if pending is None else _late_at(pending, needed_at)

    def outstanding_task_ids(self) -> list[str]:
        return [p.task_id for p in self._pending.values() if p.task_id and not p.complete]

    @property
    def done(self) -> bool:
        return self.closed_input and not self._pending

    @property
    def released_count(self) -> int:
        return self._next_seq


def _late_at(pending: PendingChunk, needed_at: float | None) -> float:
    return pending.deadline if needed_at is None else max(pending.deadline, needed_at)
