from __future__ import annotations

import contextlib
import json
import struct
from uuid import UUID, uuid4

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from contracts.media import Box
from conversation.dialogue.turn_state import TurnState
from conversation.protocol import (
    MAX_CLIENT_AUDIO_BYTES,
    MAX_CONTROL_MESSAGE_BYTES,
    MAX_TEXT_CHARS,
    MEDIA_MAGIC,
    AudioStart,
    AvatarInfo,
    ChunkFrame,
    ErrorCode,
    Fallback,
    Hello,
    IdleClip,
    Interrupt,
    Interrupted,
    InterruptReason,
    MediaChunk,
    MediaKind,
    Ping,
    ProtocolError,
    Ready,
    State,
    Subtitle,
    Text,
    TurnEnd,
    parse_client_message,
    server_message_adapter,
    validate_client_audio,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type": "hello"}', Hello(type="hello", protocol_version=1, client=None)),
        (
            '{"type": "hello", "protocol_version": 1, "client": "widget/1.0"}',
            Hello(type="hello", client="widget/1.0"),
        ),
        (
            '{"type": "text", "text": "Where is my order?"}',
            Text(type="text", text="Where is my order?"),
        ),
        (
            b'{"type":"audio_start","sample_rate":16000,"encoding":"pcm_s16le","channels":1}',
            AudioStart(type="audio_start", sample_rate=16000, encoding="pcm_s16le", channels=1),
        ),
        ('{"type": "interrupt"}', Interrupt(type="interrupt")),
        ('{"type": "ping", "nonce": "n-1"}', Ping(type="ping", nonce="n-1")),
        ('{"type": "ping"}', Ping(type="ping")),
    ],
)
def test_valid_client_messages_parse(raw: str | bytes, expected: BaseModel) -> None:
    assert parse_client_message(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", ErrorCode.INVALID_JSON),
        (b"\xff\xfe{}", ErrorCode.INVALID_JSON),
        ("[1, 2]", ErrorCode.INVALID_JSON),
        ('"text"', ErrorCode.INVALID_JSON),
        ("[" * 5000 + "]" * 5000, ErrorCode.INVALID_JSON),
        ("{}", ErrorCode.UNKNOWN_TYPE),
        ('{"type": "dance"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type": 3}', ErrorCode.UNKNOWN_TYPE),
        ('{"type": "text"}', ErrorCode.INVALID_FIELD),
        ('{"type": "text", "text": 42}', ErrorCode.INVALID_FIELD),
        ('{"type": "text", "text": ""}', ErrorCode.INVALID_FIELD),
        ('{"type": "text", "text": " \\n\\t "}', ErrorCode.INVALID_FIELD),
        (json.dumps({"type": "text", "text": "a" * (MAX_TEXT_CHARS + 1)}), ErrorCode.INVALID_FIELD),
        ('{"type": "text", "text": "hi", "lang": "en"}', ErrorCode.INVALID_FIELD),
        ('{"type": "hello", "protocol_version": "1"}', ErrorCode.INVALID_FIELD),
        (
            '{"type":"audio_start","sample_rate":48000,"encoding":"pcm_s16le","channels":1}',
            ErrorCode.INVALID_FIELD,
        ),
        (
            '{"type":"audio_start","sample_rate":16000,"encoding":"opus","channels":1}',
            ErrorCode.INVALID_FIELD,
        ),
        (
            '{"type":"audio_start","sample_rate":16000,"encoding":"pcm_s16le","channels":2}',
            ErrorCode.INVALID_FIELD,
        ),
        ('{"type":"audio_start"}', ErrorCode.INVALID_FIELD),
        ('{"type": "ping", "nonce": 7}', ErrorCode.INVALID_FIELD),
        ('{"type": "text", "text": "\ud800 lone surrogate"}', ErrorCode.INVALID_FIELD),
        ('{"type": "text", "text": "\\ud800 escaped surrogate"}', ErrorCode.INVALID_FIELD),
        ('{"type": "hello", "protocol_version": true}', ErrorCode.INVALID_FIELD),
        ('{"type": "hello", "protocol_version": NaN}', ErrorCode.INVALID_FIELD),
        (" " * (MAX_CONTROL_MESSAGE_BYTES + 1), ErrorCode.TOO_LARGE),
        ("\u00e9" * (MAX_CONTROL_MESSAGE_BYTES // 2 + 1), ErrorCode.TOO_LARGE),  # counted in bytes
    ],
)
def test_bad_client_messages_raise_typed_errors(raw: str | bytes, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(raw)
    assert caught.value.code is code


def test_error_messages_never_quote_the_input() -> None:
    secret = "my card number is 4111"
    for raw in [
        json.dumps({"type": "text", "text": secret, "extra": secret}),
        json.dumps({"type": "ping", "nonce": secret * 10}),
        json.dumps({"type": secret}),
    ]:
        with pytest.raises(ProtocolError) as caught:
            parse_client_message(raw)
        assert "4111" not in caught.value.message
        assert "4111" not in caught.value.to_message().model_dump_json()


def test_messages_are_frozen() -> None:
    message = parse_client_message('{"type": "text", "text": "hi"}')
    assert isinstance(message, Text)
    with pytest.raises(ValueError):
        setattr(message, "text", "changed")  # noqa: B010


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
message_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["hello", "text", "audio_start", "audio_stop", "interrupt", "ping", "x"]
        )
    },
    optional={
        "text": json_values,
        "nonce": json_values,
        "sample_rate": json_values,
        "encoding": json_values,
        "channels": json_values,
        "protocol_version": json_values,
        "client": json_values,
    },
)


@settings(max_examples=500, deadline=None)
@given(
    raw=st.binary(max_size=200)
    | st.text(max_size=200)
    | json_values.map(json.dumps)
    | message_like.map(json.dumps)
    | message_like.map(lambda m: json.dumps(m).encode())
    | st.text(st.characters(categories=["Cs", "Ll", "Nd"]), max_size=8).map(
        lambda t: '{"type": "text", "text": "' + t + '"}'
    )
)
def test_parse_only_returns_a_model_or_raises_protocol_error(raw: str | bytes) -> None:
    try:
        message = parse_client_message(raw)
    except ProtocolError as exc:
        assert exc.code in set(ErrorCode)
    else:
        assert (
            isinstance(message, Hello | Text | AudioStart | Interrupt | Ping)
            or message.type == "audio_stop"
        )


def ready() -> Ready:
    return Ready(
        session_id=uuid4(),
        avatar=AvatarInfo(
            slug="astronaut",
            name="Eileen",
            width=512,
            height=512,
            fps=25,
            idle_clip=IdleClip(webm="/media/idle/astronaut.webm", mp4="/media/idle/astronaut.mp4"),
            poster="/media/idle/astronaut.jpg",
            face_box=Box(180, 90, 160, 200),
        ),
        languages=("en", "de"),
    )


def test_server_messages_round_trip_through_json() -> None:
    turn = uuid4()
    messages = [
        ready(),
        State(state=TurnState.SPEAKING, turn_id=turn),
        State(state=TurnState.IDLE, turn_id=None),
        Subtitle(turn_id=turn, seq=3, text="It ships today.", sentence=1),
        Interrupted(turn_id=turn, reason=InterruptReason.SPEECH),
        TurnEnd(turn_id=turn, ttfw_ms=412.5, fallbacks=(Fallback.AUDIO_ONLY,), cache_hit=True),
        ProtocolError(ErrorCode.RATE_LIMITED, "slow down").to_message(),
    ]
    for message in messages:
        encoded = message.model_dump_json()
        assert server_message_adapter.validate_json(encoded) == message
    assert json.loads(messages[0].model_dump_json())["avatar"]["face_box"] == {
        "x": 180,
        "y": 90,
        "w": 160,
        "h": 200,
    }
    assert json.loads(messages[5].model_dump_json())["fallbacks"] == ["audio_only"]


def test_client_audio_is_pcm16_in_small_frames() -> None:
    samples = np.array([0, 1, -1, 32767, -32768], dtype="<i2")
    decoded = validate_client_audio(samples.tobytes())
    assert decoded.dtype == np.int16 and decoded.tolist() == samples.tolist()
    assert len(validate_client_audio(b"\x00" * MAX_CLIENT_AUDIO_BYTES)) == 1600  # 100 ms


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02", b"\x00" * (MAX_CLIENT_AUDIO_BYTES + 2)])
def test_malformed_client_audio_is_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        validate_client_audio(data)
    assert caught.value.code is ErrorCode.AUDIO_MALFORMED


def chunk(**changes: object) -> MediaChunk:
    fields: dict[str, object] = {
        "turn_id": UUID("12345678-1234-5678-1234-567812345678"),
        "seq": 7,
        "audio": np.arange(1280, dtype="<i2").tobytes(),
        "first_frame": 40,
        "frames": (
            ChunkFrame(idle_index=3, box=Box(10, 20, 96, 96), jpeg=b"\xff\xd8one\xff\xd9"),
            ChunkFrame(idle_index=4, box=Box(11, 20, 96, 96), jpeg=b"\xff\xd8second\xff\xd9"),
        ),
    }
    fields.update(changes)
    return MediaChunk(**fields)  # type: ignore[arg-type]


def test_media_chunk_layout_is_the_documented_one() -> None:
    packed = chunk().pack()
    magic, kind, reserved, turn, seq = struct.unpack_from("<BBH16sI", packed, 0)
    assert (magic, kind, reserved, seq) == (MEDIA_MAGIC, MediaKind.CHUNK, 0, 7)
    assert UUID(bytes=turn) == chunk().turn_id
    assert struct.unpack_from("<IIIHH", packed, 24) == (16000, 40, 2560, 2, 0)
    assert struct.unpack_from("<IHHHHI", packed, 40) == (3, 10, 20, 96, 96, 7)
    assert struct.unpack_from("<IHHHHI", packed, 56) == (4, 11, 20, 96, 96, 10)
    audio_at = 40 + 2 * 16
    assert audio_at % 4 == 0  # an Int16Array can view the audio without a copy
    assert packed[audio_at : audio_at + 2560] == chunk().audio
    assert packed[audio_at + 2560 :] == b"\xff\xd8one\xff\xd9\xff\xd8second\xff\xd9"


@pytest.mark.parametrize(
    "original",
    [
        chunk(),
        chunk(frames=()),  # audio over the idle loop
        chunk(audio=b""),
        chunk(seq=0, sample_rate=24000, first_frame=0),
        MediaChunk(turn_id=uuid4(), seq=12, end=True),
    ],
)
def test_media_chunk_round_trips(original: MediaChunk) -> None:
    packed = original.pack()
    assert MediaChunk.unpack(packed) == original
    assert MediaChunk.unpack(memoryview(packed)) == original
    assert MediaChunk.unpack(packed).kind is original.kind


def test_kinds() -> None:
    assert chunk().kind is MediaKind.CHUNK
    assert chunk(frames=()).kind is MediaKind.AUDIO
    assert chunk(audio=b"").kind is MediaKind.FRAMES
    assert len(MediaChunk(turn_id=uuid4(), seq=1, end=True).pack()) == 24


@pytest.mark.parametrize(
    "original", [chunk(), chunk(frames=()), MediaChunk(turn_id=uuid4(), seq=1, end=True)]
)
def test_every_truncation_or_extension_is_refused(original: MediaChunk) -> None:
    packed = original.pack()
    for cut in range(len(packed)):
        with pytest.raises(ProtocolError):
            MediaChunk.unpack(packed[:cut])
    with pytest.raises(ProtocolError):
        MediaChunk.unpack(packed + b"\x00")


@pytest.mark.parametrize(
    ("offset", "value"),
    [(0, 0xA2), (1, 0), (1, 9), (1, MediaKind.FRAMES), (1, MediaKind.END), (26, 0xFF), (32, 3)],
)
def test_corrupt_headers_are_refused(offset: int, value: int) -> None:
    packed = bytearray(chunk().pack())
    packed[offset] = value
    with pytest.raises(ProtocolError) as caught:
        MediaChunk.unpack(bytes(packed))
    assert caught.value.code is ErrorCode.AUDIO_MALFORMED


@pytest.mark.parametrize(
    "bad",
    [
        chunk(audio=b"\x00"),
        chunk(audio=b"", frames=()),
        chunk(seq=-1),
        chunk(seq=2**32),
        chunk(sample_rate=1000),
        MediaChunk(turn_id=uuid4(), seq=1, audio=b"\x00\x00", end=True),
        chunk(frames=(ChunkFrame(0, Box(70000, 0, 1, 1), b"x"),)),
    ],
)
def test_unpackable_chunks_are_refused_at_pack(bad: MediaChunk) -> None:
    with pytest.raises(ValueError):
        bad.pack()


frames_strategy = st.lists(
    st.builds(
        ChunkFrame,
        idle_index=st.integers(0, 2**32 - 1),
        box=st.builds(Box, *(st.integers(0, 2**16 - 1) for _ in range(4))),
        jpeg=st.binary(max_size=64),
    ),
    max_size=6,
).map(tuple)


@settings(max_examples=200, deadline=None)
@given(
    turn_id=st.uuids(),
    seq=st.integers(0, 2**32 - 1),
    audio=st.binary(max_size=400).map(lambda b: b[: len(b) // 2 * 2]),
    sample_rate=st.sampled_from([16000, 24000]),
    first_frame=st.integers(0, 2**32 - 1),
    frames=frames_strategy,
    cut=st.integers(0, 10_000),
)
def test_media_round_trip_property(
    turn_id: UUID,
    seq: int,
    audio: bytes,
    sample_rate: int,
    first_frame: int,
    frames: tuple[ChunkFrame, ...],
    cut: int,
) -> None:
    if not audio and not frames:
        return
    original = MediaChunk(turn_id, seq, audio, sample_rate, first_frame, frames)
    packed = original.pack()
    assert MediaChunk.unpack(packed) == original
    with pytest.raises(ProtocolError):
        MediaChunk.unpack(packed[: cut % len(packed)])


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=120))
def test_unpack_of_garbage_only_raises_protocol_error(data: bytes) -> None:
    for candidate in (data, bytes([MEDIA_MAGIC]) + data, bytes([MEDIA_MAGIC, 3]) + data):
        with contextlib.suppress(ProtocolError):
            MediaChunk.unpack(candidate)


def test_media_audio_seconds_reads_the_header_only() -> None:
    from uuid import uuid4

    from conversation.protocol import media_audio_seconds

    chunk = MediaChunk(turn_id=uuid4(), seq=0, audio=b"\x00\x00" * 8000)
    assert media_audio_seconds(chunk.pack()) == 0.5
    assert media_audio_seconds(MediaChunk(turn_id=uuid4(), seq=1, end=True).pack()) == 0.0
