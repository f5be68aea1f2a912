"""Pipeline events: small frozen dataclasses whose base class decides how they behave.

`SystemFrame`s jump queues and survive an interruption; `DataFrame`s and `ControlFrame`s keep
their order and are dropped by it (a barge-in discards everything queued for the old turn).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from conversation.protocol import InterruptReason
from conversation.turn_state import StateChange


@dataclass(frozen=True, slots=True)
class Frame:
    """Base of every pipeline event."""


@dataclass(frozen=True, slots=True)
class SystemFrame(Frame):
    """Out of band: processed ahead of queued frames, never dropped by an interruption."""


@dataclass(frozen=True, slots=True)
class DataFrame(Frame):
    """Content of a turn, in order; an interruption drops the queued ones."""


@dataclass(frozen=True, slots=True)
class ControlFrame(Frame):
    """Turn bookkeeping, in order with the data it brackets; dropped by an interruption."""


# --- system ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InterruptFrame(SystemFrame):
    """The user barged in: every stage stops work on `turn_id` and flushes what it holds."""

    turn_id: UUID
    reason: InterruptReason
    at: float  # monotonic seconds, for the turn record's barge-in latency


@dataclass(frozen=True, slots=True)
class CancelTurn(SystemFrame):
    """Stop work on `turn_id` without a barge-in (stage timeout, session closing, shutdown)."""

    turn_id: UUID
    reason: str


@dataclass(frozen=True, slots=True)
class StateChanged(SystemFrame):
    """The turn state machine moved; the consumer tells the client with a `state` message."""

    change: StateChange


# --- data ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextToken(DataFrame):
    """A piece of the LLM's answer as it streams (any length, may split words)."""

    turn_id: UUID
    text: str


@dataclass(frozen=True, slots=True)
class Sentence(DataFrame):
    """A chunk from the sentence chunker, ready for TTS; `index` counts from 0 in the turn."""

    turn_id: UUID
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class AudioChunk(DataFrame):
    """TTS audio for lip-sync: PCM16 LE mono, a whole number of video frames long."""

    turn_id: UUID
    seq: int
    pcm: bytes
    sample_rate: int
    sentence: int
    first_frame: int  # frames of the turn before this chunk
    is_last_of_sentence: bool


@dataclass(frozen=True, slots=True)
class MediaReady(DataFrame):
    """A packed binary media message (`protocol.MediaChunk.pack()`), ready for the socket."""

    turn_id: UUID
    seq: int
    payload: bytes


# --- control ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnStarted(ControlFrame):
    turn_id: UUID
    input_kind: Literal["text", "audio"]
    at: float


@dataclass(frozen=True, slots=True)
class LLMDone(ControlFrame):
    """The LLM stream of `turn_id` ended; the chunker flushes what it holds."""

    turn_id: UUID


@dataclass(frozen=True, slots=True)
class TurnEnded(ControlFrame):
    turn_id: UUID
    interrupted: bool
    at: float


def survives_interruption(frame: Frame) -> bool:
    """Whether `frame` stays in a queue that an interruption flushes; decided by its class."""
    return isinstance(frame, SystemFrame)
