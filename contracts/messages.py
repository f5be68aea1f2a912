"""Messages between the processes, each with one encode and one decode.

Render requests go to the `lipsync` queue and recognition requests to the `speech` queue as
Celery kwargs (msgpack); frames, render failures and recognition results come back to a
session's channel over the channel layer (msgpack dicts with a `type`). Nothing else builds or
reads these dicts, and tasks are sent by name, so the web process never imports a worker's code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from contracts.media import SAMPLES_PER_FRAME, Box
from contracts.phonemes import PhonemeSpan

RENDER_TASK = "lipsync_worker.tasks.render_chunk"  # kwargs: RenderRequest
BAKE_TASK = "lipsync_worker.tasks.bake_avatar"  # kwargs: avatar_id
TRANSCRIBE_TASK = "conversation.tasks.transcribe_utterance"  # kwargs: TranscribeRequest
PRERENDER_TASK = "conversation.tasks.prerender_faq_clip"  # kwargs: avatar_id, faq_entry_id
HANDOFF_WEBHOOK_TASK = "handoff.tasks.deliver_webhook"  # kwargs: hand_off_id (never any text)

# Per-turn cancel flags and per-task revoke marks in Redis: the gateway sets them, lipsync
# workers read them before a chunk starts and between batches.
CANCEL_TTL_S = 600
RIGHT_AUDIO_MAX_BYTES = 32_000  # 1 s of 16 kHz int16: far more than any renderer looks ahead
# Phonemes of a chunk and its left context (about 2 s of speech, some 30 phonemes): a bound
# far above that keeps a malformed message from costing the worker more than a chunk does.
PHONEMES_MAX = 400
PHONEME_MAX_CHARS = 8


def cancel_key(turn_id: str) -> str:
    return f"lipsync:cancel:{turn_id}"


def revoked_key(task_id: str) -> str:
    return f"lipsync:revoked:{task_id}"


class MessageError(ValueError):
    """A message that does not have the shape its type promises."""


def _kwargs_of(message: Any) -> dict[str, Any]:
    return {f.name: getattr(message, f.name) for f in fields(message)}


def _from(cls: type, data: Mapping[str, Any]) -> Any:
    try:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
    except (TypeError, ValueError) as error:
        raise MessageError(f"malformed {cls.__name__}: {error}") from None


def _sizes_only(message: Any, hidden: Sequence[str]) -> str:
    """A task's kwargs as Flower and logs may show them: sizes instead of audio or words."""
    shown = {
        name: (_size(value) if name in hidden else value)
        for name, value in _kwargs_of(message).items()
    }
    return repr(shown)


def _size(value: Any) -> str:
    return f"<{len(value)} bytes>" if isinstance(value, bytes) else f"<{len(value)} items>"


@dataclass(frozen=True, slots=True)
class RenderRequest:
    """One audio chunk of a turn to render on a lipsync worker (task kwargs)."""

    channel: str  # where the frames go: the session's channel
    avatar_id: int
    baked_checksum: str
    renderer: str
    turn_id: str
    seq: int
    audio: bytes  # int16 mono 16 kHz PCM
    idle_start: int
    turn_frame: int
    left_audio: bytes = b""  # the turn's audio just before `audio`
    right_audio: bytes = b""  # the turn's audio just after `audio` (none after the turn's last)
    # The phonemes the TTS spoke in `left_audio` and `audio`, their samples counted from the
    # first sample of `left_audio` (as `StreamState.phonemes`); empty when the TTS reported
    # none. IPA symbols and sample numbers only. On the wire: [[ipa, start, end], ...].
    phonemes: tuple[PhonemeSpan, ...] = ()

    def __post_init__(self) -> None:
        for name in ("audio", "left_audio", "right_audio"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) % 2:
                raise MessageError(f"{name} is not int16 PCM bytes")
        if not isinstance(self.phonemes, tuple) or len(self.phonemes) > PHONEMES_MAX:
            raise MessageError(f"phonemes are not a tuple of at most {PHONEMES_MAX} spans")
        if len(self.right_audio) > RIGHT_AUDIO_MAX_BYTES:
            raise MessageError(f"right_audio over {RIGHT_AUDIO_MAX_BYTES} bytes")
        if self.right_audio and len(self.audio) % (2 * SAMPLES_PER_FRAME):
            # Audio follows only a chunk that is not its turn's last: a whole number of frames.
            raise MessageError("right_audio after audio that is not a whole number of frames")

    def to_kwargs(self) -> dict[str, Any]:
        kwargs = _kwargs_of(self)
        kwargs["phonemes"] = [[p.ipa, p.start, p.end] for p in self.phonemes]
        return kwargs

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> RenderRequest:
        # Older senders send no phonemes: the renderer shapes the mouth by the audio alone.
        spans = _phoneme_spans(kwargs.get("phonemes", ()))
        request: RenderRequest = _from(cls, {**kwargs, "phonemes": spans})
        return request

    def shown(self) -> str:
        return _sizes_only(self, ("audio", "left_audio", "right_audio", "phonemes"))

    @property
    def priority(self) -> int:
        """The broker priority, 0 (taken first) to 9.

        Chunk `seq` plays about `seq` seconds into its answer, while the answer's text is spoken
        and queued far faster than that: taken in arrival order, a burst of new answers would
        wait behind the later chunks of the ones before. Taken by priority, every answer's first
        chunk goes first, and later chunks, which have time, fill the gaps.
        """
        return min(self.seq, 9)


def _phoneme_spans(wire: Any) -> tuple[PhonemeSpan, ...]:
    """[[ipa, start, end], ...] (msgpack gives lists) -> spans; MessageError on anything else."""
    if not isinstance(wire, list | tuple) or len(wire) > PHONEMES_MAX:
        raise MessageError(f"malformed RenderRequest: phonemes not a list of <= {PHONEMES_MAX}")
    spans = []
    for item in wire:
        if isinstance(item, PhonemeSpan):
            spans.append(item)
            continue
        try:
            ipa, start, end = item
            valid = isinstance(ipa, str) and 0 < len(ipa) <= PHONEME_MAX_CHARS
            if not valid or type(start) is not int or type(end) is not int:
                raise ValueError("not [ipa, start, end]")
            spans.append(PhonemeSpan(ipa, start, end))
        except (TypeError, ValueError):
            raise MessageError(
                "malformed RenderRequest: a phoneme is not [ipa, start, end]"
            ) from None
    return tuple(spans)


@dataclass(frozen=True, slots=True)
class FramesReady:
    """Rendered frames of one chunk (or of one part of it: a chunk over the budget is split)."""

    TYPE: ClassVar[str] = "lipsync.frames"

    turn_id: str
    seq: int
    part: int
    parts: int
    first_frame: int
    idle_indices: tuple[int, ...]
    boxes: tuple[Box, ...]
    jpegs: tuple[bytes, ...]
    render_ms: float = 0.0

    def __post_init__(self) -> None:
        if not len(self.idle_indices) == len(self.boxes) == len(self.jpegs):
            raise MessageError("frames message: idle_indices, boxes and jpegs differ in length")
        if not 0 <= self.part < self.parts:
            raise MessageError(f"frames message: part {self.part} of {self.parts}")

    def encode(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "turn_id": self.turn_id,
            "seq": self.seq,
            "part": self.part,
            "parts": self.parts,
            "first_frame": self.first_frame,
            "idle_indices": list(self.idle_indices),
            "boxes": [[b.x, b.y, b.w, b.h] for b in self.boxes],
            "jpegs": list(self.jpegs),
            "render_ms": self.render_ms,
        }

    @classmethod
    def decode(cls, message: Mapping[str, Any]) -> FramesReady:
        try:
            return cls(
                turn_id=str(message["turn_id"]),
                seq=int(message["seq"]),
                part=int(message.get("part", 0)),
                parts=int(message.get("parts", 1)),
                first_frame=int(message.get("first_frame", 0)),
                idle_indices=tuple(int(i) for i in message["idle_indices"]),
                boxes=tuple(Box(*(int(v) for v in box)) for box in message["boxes"]),
                jpegs=tuple(bytes(jpeg) for jpeg in message["jpegs"]),
                render_ms=float(message.get("render_ms", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MessageError(f"malformed frames message: {type(error).__name__}") from None


@dataclass(frozen=True, slots=True)
class RenderFailed:
    """A chunk that will get no frames: the session plays its audio over the idle loop."""

    TYPE: ClassVar[str] = "lipsync.failed"

    turn_id: str
    seq: int
    reason: str = ""

    def encode(self) -> dict[str, Any]:
        return {"type": self.TYPE, "turn_id": self.turn_id, "seq": self.seq, "reason": self.reason}

    @classmethod
    def decode(cls, message: Mapping[str, Any]) -> RenderFailed:
        try:
            return cls(
                turn_id=str(message["turn_id"]),
                seq=int(message["seq"]),
                reason=str(message.get("reason", "")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MessageError(f"malformed render failure: {type(error).__name__}") from None


@dataclass(frozen=True, slots=True)
class TranscribeRequest:
    """One utterance to recognise on a speech worker (task kwargs)."""

    channel: str  # where the result goes
    request_id: str
    audio: bytes  # int16 mono 16 kHz PCM
    language: str | None = None
    hints: tuple[str, ...] = field(default=())
    alternatives: int = 0  # other readings wanted besides the best
    # The avatar's other languages: the recogniser may hear one of these instead of `language`.
    other_languages: tuple[str, ...] = field(default=())

    def to_kwargs(self) -> dict[str, Any]:
        kwargs = _kwargs_of(self)
        kwargs["hints"] = list(self.hints)
        kwargs["other_languages"] = list(self.other_languages)
        return kwargs

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> TranscribeRequest:
        request: TranscribeRequest = _from(
            cls,
            {
                **kwargs,
                "hints": tuple(kwargs.get("hints", ())),
                "other_languages": tuple(kwargs.get("other_languages", ())),
            },
        )
        return request

    def shown(self) -> str:
        return _sizes_only(self, ("audio", "hints"))


@dataclass(frozen=True, slots=True)
class AsrResult:
    """The answer to a TranscribeRequest: the text and language, or the error's kind."""

    TYPE: ClassVar[str] = "asr.result"

    request_id: str
    text: str = ""
    language: str | None = None
    error: str | None = None
    alternatives: tuple[str, ...] = ()  # other readings of the audio, most likely first

    def encode(self) -> dict[str, Any]:
        return {"type": self.TYPE, **_kwargs_of(self), "alternatives": list(self.alternatives)}

    @classmethod
    def decode(cls, message: Mapping[str, Any]) -> AsrResult:
        alternatives = message.get("alternatives", ())
        if not isinstance(alternatives, (list, tuple)) or not all(
            isinstance(a, str) for a in alternatives
        ):
            raise MessageError("malformed recognition result")
        result: AsrResult = _from(cls, {**message, "alternatives": tuple(alternatives)})
        if not isinstance(result.request_id, str) or not isinstance(result.text, str):
            raise MessageError("malformed recognition result")
        return result


# --- hand-off to a person: between a customer's session and the agents' console --------------
# A session sends its hand-off's lines and changes to the hand-off's group (every console
# socket showing it joins) and to the lobby (the consoles' lists); a console sends the agent's
# words and the take-over's start and end to the session's own channel.

HANDOFF_LOBBY = "handoff-lobby"


def handoff_group(hand_off_id: str) -> str:
    return f"handoff-{hand_off_id}"


@dataclass(frozen=True, slots=True)
class HandOffLine:
    """A line of the conversation for the console: `role` customer, avatar or agent."""

    TYPE: ClassVar[str] = "handoff.line"

    hand_off_id: str
    role: str
    text: str

    def encode(self) -> dict[str, Any]:
        return {"type": self.TYPE, **_kwargs_of(self)}

    @classmethod
    def decode(cls, message: Mapping[str, Any]) -> HandOffLine:
        line: HandOffLine = _from(cls, message)
        if not all(isinstance(v, str) for v in (line.hand_off_id, line.role, line.text)):
            raise MessageError("malformed hand-off line")
        return line


@dataclass(frozen=True, slots=True)
class HandOffChanged:
    """A hand-off opened, was taken or ended: consoles refresh their lists."""

    TYPE: ClassVar[str] = "handoff.changed"

    hand_off_id: str
    status: str

    def encode(self) -> dict[str, Any]:
        return {"type": self.TYPE, **_kwargs_of(self)}

    @classmethod
    def decode(cls, message: Mapping[str, Any]) -> HandOffChanged:
        changed: HandOffChanged = _from(cls, message)
        if not isinstance(changed.hand_off_id, str) or not isinstance(changed.status, str):
            raise MessageError("malformed hand-off change")
        return changed


@dataclass(frozen=True, slots=True)
class AgentSays:
    """The agent's words, for the avatar to speak to the customer in its voice."""

    TYPE: ClassVar[str] = "handoff.say"
    input_kind: ClassVar[str] = "agent"  # a session speaks it as a turn of this kind

    hand_off_id: str
    agent: str
    text: str

    def encode(self) -> dict[str, Any]:
        return {"type": self.TYPE, **_kwargs_of(self)}

    @classmethod
    def decode(cls, message: Mapping[str, Any]) -> AgentSays:
        return _agent_words(cls, message)


@dataclass(frozen=True, slots=True)
class AgentChat:
    """The agent's words as plain chat: shown to the customer, not spoken."""

    TYPE: ClassVar[str] = "handoff.chat"

    hand_off_id: str
    agent: str
    text: str

    def encode(self) -> dict[str, Any]:
        return {"type": self.TYPE, **_kwargs_of(self)}

    @classmethod
    def decode(cls, message: Mapping[str, Any]) -> AgentChat:
        return _agent_words(cls, message)


def _agent_words(cls: type, message: Mapping[str, Any]) -> Any:
    words = _from(cls, message)
    if not all(isinstance(v, str) for v in (words.hand_off_id, words.agent, words.text)):
        raise MessageError("malformed agent message")
    if not words.text.strip():
        raise MessageError("an agent message without words")
    return words


@dataclass(frozen=True, slots=True)
class DeskNotice:
    """The take-over started (`taken`, by `agent`) or ended (`closed`: the avatar answers)."""

    TYPE: ClassVar[str] = "handoff.notice"

    hand_off_id: str
    status: str
    agent: str = ""

    def encode(self) -> dict[str, Any]:
        return {"type": self.TYPE, **_kwargs_of(self)}

    @classmethod
    def decode(cls, message: Mapping[str, Any]) -> DeskNotice:
        notice: DeskNotice = _from(cls, message)
        if notice.status not in ("taken", "closed"):
            raise MessageError("malformed desk notice")
        return notice
