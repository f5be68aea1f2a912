"""WebSocket protocol v1: JSON control messages (pydantic, parsed once at the edge) and the
binary media message (a fixed `struct` header, no pydantic: the hot path). See docs/protocol.md.
"""

from __future__ import annotations

import enum
import json
import struct
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from contracts.media import SAMPLE_RATE, Box

PROTOCOL_VERSION = 1
MAX_CONTROL_MESSAGE_BYTES = 16 * 1024
MAX_TEXT_CHARS = 1000
CLIENT_AUDIO_MAX_MS = 100
MAX_CLIENT_AUDIO_BYTES = SAMPLE_RATE * CLIENT_AUDIO_MAX_MS // 1000 * 2  # 3200 bytes of PCM16


class ErrorCode(enum.StrEnum):
    INVALID_JSON = "invalid_json"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    TOO_LARGE = "too_large"
    AUDIO_MALFORMED = "audio_malformed"
    RATE_LIMITED = "rate_limited"
    NOT_READY = "not_ready"
    INTERNAL = "internal"


class ProtocolError(Exception):
    """A message the server refuses; `message` is safe to send back (it never quotes input)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_message(self, *, fatal: bool = False) -> ErrorMessage:
        return ErrorMessage(code=self.code, message=self.message, fatal=fatal)


class TurnState(enum.StrEnum):
    """The session's turn state as the client sees it (the machine: dialogue/turn_state.py)."""

    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    INTERRUPTED = "interrupted"
    ERROR = "error"


class InterruptReason(enum.StrEnum):
    CLIENT = "client"  # the client sent `interrupt`
    SPEECH = "speech"  # server-side VAD heard the user start speaking
    NEW_UTTERANCE = "new_utterance"  # a `text` arrived while the avatar was busy
    SERVER = "server"  # the server ended the turn (consent revoked, shutdown)
    REVISED = "revised"  # the final transcript changed a spoken answer started before it


class Fallback(enum.StrEnum):
    """Mirrors avatars.models.TurnRecord.Fallback (kept Django-free here)."""

    ONE_MOMENT = "one_moment"
    HANDOFF = "handoff"
    SUBTITLES_ONLY = "subtitles_only"
    AUDIO_ONLY = "audio_only"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ClientMessage(_Message):
    # Strict: "1" is not 1 and 1 is not "1"; a client gets invalid_field, not a guess.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- client -> server -------------------------------------------------------------------


class Hello(_ClientMessage):
    type: Literal["hello"]
    protocol_version: int = PROTOCOL_VERSION
    client: str | None = Field(default=None, max_length=100)


class Text(_ClientMessage):
    type: Literal["text"]
    input_kind: ClassVar[str] = "text"  # the turn it opens (an agent's words open "agent")
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is blank")
        return value


class AudioStart(_ClientMessage):
    type: Literal["audio_start"]
    sample_rate: Literal[16000]
    encoding: Literal["pcm_s16le"]
    channels: Literal[1]


class AudioStop(_ClientMessage):
    type: Literal["audio_stop"]


class Interrupt(_ClientMessage):
    type: Literal["interrupt"]


class Ping(_ClientMessage):
    type: Literal["ping"]
    nonce: str | None = Field(default=None, max_length=64)


class HandOffConsent(_ClientMessage):
    """The customer's answer to "may I share our conversation?" (docs/handoff.md)."""

    type: Literal["handoff_consent"]
    handoff_id: str = Field(min_length=36, max_length=36)
    consent: bool


ClientMessage = Annotated[
    Hello | Text | AudioStart | AudioStop | Interrupt | Ping | HandOffConsent,
    Field(discriminator="type"),
]
client_message_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_MESSAGE_TYPES = frozenset(
    {"hello", "text", "audio_start", "audio_stop", "interrupt", "ping", "handoff_consent"}
)


# --- server -> client -------------------------------------------------------------------


class IdleClip(_Message):
    webm: str | None
    mp4: str | None


class AvatarInfo(_Message):
    slug: str
    name: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: int = Field(gt=0)
    idle_clip: IdleClip
    poster: str | None
    face_box: Box


class Ready(_Message):
    type: Literal["ready"] = "ready"
    session_id: UUID
    protocol_version: int = PROTOCOL_VERSION
    avatar: AvatarInfo
    languages: tuple[str, ...]


class State(_Message):
    type: Literal["state"] = "state"
    state: TurnState
    turn_id: UUID | None


class Transcript(_Message):
    type: Literal["transcript"] = "transcript"
    turn_id: UUID
    text: str
    final: bool


class Subtitle(_Message):
    type: Literal["subtitle"] = "subtitle"
    turn_id: UUID
    seq: int = Field(ge=0)  # the media chunk this sentence starts in: show it when that plays
    text: str
    sentence: int = Field(ge=0)


class Interrupted(_Message):
    type: Literal["interrupted"] = "interrupted"
    turn_id: UUID
    reason: InterruptReason


class TurnEnd(_Message):
    type: Literal["turn_end"] = "turn_end"
    turn_id: UUID
    ttfw_ms: float | None
    fallbacks: tuple[Fallback, ...] = ()
    cache_hit: bool = False
    interrupted: bool = False


class ErrorMessage(_Message):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    fatal: bool = False


class Pong(_Message):
    type: Literal["pong"] = "pong"
    nonce: str | None = None


class HandOffNotice(_Message):
    """The session's hand-off to a person: opened (and the transcript question asked), taken
    by a person (`agent` names them), or closed (the avatar answers again)."""

    type: Literal["handoff"] = "handoff"
    handoff_id: UUID
    status: Literal["waiting", "taken", "closed"]
    ask_consent: bool = False
    consent: bool | None = None
    agent: str | None = None


class AgentMessage(_Message):
    """Words of the person holding the conversation, as plain chat (not spoken)."""

    type: Literal["agent_message"] = "agent_message"
    handoff_id: UUID
    agent: str
    text: str


ServerMessage = Annotated[
    Ready
    | State
    | Transcript
    | Subtitle
    | Interrupted
    | TurnEnd
    | ErrorMessage
    | Pong
    | HandOffNotice
    | AgentMessage,
    Field(discriminator="type"),
]
server_message_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Parse one WebSocket text frame; every refusal is a `ProtocolError`, nothing else."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_CONTROL_MESSAGE_BYTES:
        raise ProtocolError(
            ErrorCode.TOO_LARGE, f"control messages are at most {MAX_CONTROL_MESSAGE_BYTES} bytes"
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ProtocolError(ErrorCode.INVALID_JSON, "not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.INVALID_JSON, "a control message is a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_MESSAGE_TYPES:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"type must be one of {', '.join(sorted(CLIENT_MESSAGE_TYPES))}"
        )
    try:
        return client_message_adapter.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(ErrorCode.INVALID_FIELD, _describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    # loc and msg only: pydantic's `input` would echo the user's words back into logs.
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or "message"
    return f"{where}: {first['msg']}"


def validate_client_audio(data: bytes) -> np.ndarray:
    """One binary client frame between audio_start and audio_stop -> int16 samples (read-only)."""
    if not data or len(data) % 2:
        raise ProtocolError(ErrorCode.AUDIO_MALFORMED, "audio is PCM16: non-empty, even byte count")
    if len(data) > MAX_CLIENT_AUDIO_BYTES:
        raise ProtocolError(
            ErrorCode.AUDIO_MALFORMED,
            f"at most {CLIENT_AUDIO_MAX_MS} ms ({MAX_CLIENT_AUDIO_BYTES} bytes) per audio message",
        )
    return np.frombuffer(data, dtype="<i2")


# --- binary media (server -> client) -----------------------------------------------------


class MediaKind(enum.IntEnum):
    AUDIO = 1  # audio alone: lip-sync failed or was late, the client plays it over the idle loop
    FRAMES = 2  # frames alone (no audio in this chunk)
    CHUNK = 3  # audio and the frames that show it, together: sync by construction
    END = 4  # the turn has no media after this; its seq is one past the last chunk's


MEDIA_MAGIC = 0xA1  # high nibble 0xA marks avatar media, low nibble is the layout version
_HEADER = struct.Struct("<BBH16sI")  # magic, kind, reserved, turn id, seq: 24 bytes
_CHUNK = struct.Struct("<IIIHH")  # sample rate, first frame, audio bytes, frame count, reserved
_FRAME = struct.Struct("<IHHHHI")  # idle index, box x, y, w, h, jpeg bytes: 16 bytes
_U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class ChunkFrame:
    """One JPEG face crop (or whole frame) to paste at `box` onto idle-cycle frame `idle_index`."""

    idle_index: int
    box: Box
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class MediaChunk:
    """One media message: a chunk's PCM16 LE mono audio (16 kHz in v1) and its frames.

    `first_frame` is the turn-relative index of the first frame; frame k of the chunk starts at
    audio sample k * sample_rate / fps. A chunk of kind END has no audio and no frames.
    """

    turn_id: UUID
    seq: int
    audio: bytes = b""
    sample_rate: int = SAMPLE_RATE
    first_frame: int = 0
    frames: tuple[ChunkFrame, ...] = ()
    end: bool = False

    @property
    def kind(self) -> MediaKind:
        if self.end:
            return MediaKind.END
        if self.audio and self.frames:
            return MediaKind.CHUNK
        return MediaKind.AUDIO if self.audio else MediaKind.FRAMES

    def pack(self) -> bytes:
        kind = self.kind
        if not 0 <= self.seq <= _U32:
            raise ValueError(f"seq {self.seq} is out of the u32 range")
        header = _HEADER.pack(MEDIA_MAGIC, kind, 0, self.turn_id.bytes, self.seq)
        if kind is MediaKind.END:
            if self.audio or self.frames:
                raise ValueError("an END message carries no audio and no frames")
            return header
        if not self.audio and not self.frames:
            raise ValueError("a media chunk carries audio, frames or both")
        if len(self.audio) % 2:
            raise ValueError("audio is PCM16: an even byte count")
        if not 8000 <= self.sample_rate <= 48000:
            raise ValueError(f"sample rate {self.sample_rate} is out of range")
        try:
            parts = [
                header,
                _CHUNK.pack(
                    self.sample_rate, self.first_frame, len(self.audio), len(self.frames), 0
                ),
            ]
            for frame in self.frames:
                box, size = frame.box, len(frame.jpeg)
                parts.append(_FRAME.pack(frame.idle_index, box.x, box.y, box.w, box.h, size))
        except struct.error as exc:  # a field out of its u16/u32 range
            raise ValueError(f"media chunk field out of range: {exc}") from None
        parts.append(self.audio)
        parts.extend(frame.jpeg for frame in self.frames)
        return b"".join(parts)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview) -> MediaChunk:
        view = memoryview(data).cast("B")
        if len(view) < _HEADER.size:
            raise _malformed("shorter than the media header")
        magic, kind_value, _, turn_bytes, seq = _HEADER.unpack_from(view, 0)
        if magic != MEDIA_MAGIC:
            raise _malformed(f"unknown media magic/version byte 0x{magic:02x}")
        try:
            kind = MediaKind(kind_value)
        except ValueError:
            raise _malformed(f"unknown media kind {kind_value}") from None
        turn_id = UUID(bytes=bytes(turn_bytes))
        if kind is MediaKind.END:
            if len(view) != _HEADER.size:
                raise _malformed("an END message is the header alone")
            return cls(turn_id=turn_id, seq=seq, end=True)
        offset = _HEADER.size + _CHUNK.size
        if len(view) < offset:
            raise _malformed("truncated chunk header")
        sample_rate, first_frame, audio_len, count, _ = _CHUNK.unpack_from(view, _HEADER.size)
        if audio_len % 2 or not 8000 <= sample_rate <= 48000:
            raise _malformed("bad audio length or sample rate")
        table_end = offset + count * _FRAME.size
        if len(view) < table_end:
            raise _malformed("truncated frame table")
        entries = [_FRAME.unpack_from(view, offset + i * _FRAME.size) for i in range(count)]
        body = table_end + audio_len + sum(entry[5] for entry in entries)
        if len(view) != body:
            raise _malformed(f"length {len(view)} does not match the header's {body}")
        audio = bytes(view[table_end : table_end + audio_len])
        position = table_end + audio_len
        frames = []
        for idle_index, x, y, w, h, size in entries:
            jpeg = bytes(view[position : position + size])
            frames.append(ChunkFrame(idle_index, Box(x, y, w, h), jpeg))
            position += size
        chunk = cls(turn_id, seq, audio, sample_rate, first_frame, tuple(frames))
        if chunk.kind is not kind:
            raise _malformed(f"kind {kind.name} does not match its payload ({chunk.kind.name})")
        return chunk


def media_audio_seconds(packed: bytes) -> float:
    """Seconds of audio in a packed media message, read from its header alone (no copies)."""
    if len(packed) < _HEADER.size + _CHUNK.size:
        return 0.0  # an END message
    sample_rate, _, audio_bytes, _, _ = _CHUNK.unpack_from(packed, _HEADER.size)
    return audio_bytes / 2 / sample_rate


def _malformed(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.AUDIO_MALFORMED, f"media message: {message}")
