"""Property-based fuzzing of everything a client can send, and of the media codec.

Counts: each test runs a fixed number of derandomized examples (`EXAMPLES` below), so one run
of this module tries 4 x 3,000 = 12,000 cases, every run the same ones (CI stays reproducible;
widen the search locally with HYPOTHESIS_PROFILE=wide; the total over tests/security is in
test_fuzz_session.py). The property everywhere: a refusal is a
`ProtocolError` with a documented code and a message that never quotes the input, and nothing
else escapes.
"""

from __future__ import annotations

import json
import os
import uuid

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.media import Box
from conversation.protocol import (
    MAX_CONTROL_MESSAGE_BYTES,
    ChunkFrame,
    ErrorCode,
    MediaChunk,
    ProtocolError,
    parse_client_message,
    validate_client_audio,
)
from tests.security.strategies import SECRET, json_value, message_like

EXAMPLES = 3_000
settings.register_profile(
    "ci",
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.register_profile("wide", max_examples=50_000, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DOCUMENTED = {code.value for code in ErrorCode}


def check_refusal(error: ProtocolError) -> None:
    assert error.code in DOCUMENTED
    assert SECRET not in error.message


@given(message_like)
def test_message_shaped_json_is_parsed_or_refused_with_a_documented_code(message: dict) -> None:
    try:
        parsed = parse_client_message(json.dumps(message))
    except ProtocolError as error:
        check_refusal(error)
    else:
        assert parsed.type == message["type"]


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), json_value.map(json.dumps)))
def test_arbitrary_text_frames_never_escape_as_anything_but_a_protocol_error(
    raw: str | bytes,
) -> None:
    try:
        parse_client_message(raw)
    except ProtocolError as error:
        check_refusal(error)


@given(st.binary(max_size=4000))
def test_binary_audio_frames_are_pcm16_or_refused(data: bytes) -> None:
    try:
        samples = validate_client_audio(data)
    except ProtocolError as error:
        assert error.code == ErrorCode.AUDIO_MALFORMED
    else:
        assert samples.dtype == np.dtype("<i2") and samples.nbytes == len(data)


frames = st.lists(
    st.builds(
        ChunkFrame,
        st.integers(0, 2**32 - 1),
        st.builds(Box, *(st.integers(0, 2**16 - 1) for _ in range(4))),
        st.binary(max_size=20),
    ),
    max_size=3,
)


@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 800).map(lambda n: bytes(2 * n)),
    frames,
    st.integers(0, 200),
    st.binary(max_size=8),
)
def test_media_round_trips_and_damaged_media_is_refused(
    seq: int, audio: bytes, frames: list[ChunkFrame], cut: int, junk: bytes
) -> None:
    if not audio and not frames:
        return  # not a chunk (END is the header alone, tested in test_protocol.py)
    chunk = MediaChunk(uuid.uuid4(), seq, audio, 16000, 0, tuple(frames))
    packed = chunk.pack()
    assert MediaChunk.unpack(packed) == chunk
    for damaged in (
        packed[: max(0, len(packed) - 1 - cut)],
        packed + junk if junk else packed[:-1],
    ):
        try:
            MediaChunk.unpack(damaged)
        except ProtocolError as error:
            assert error.code == ErrorCode.AUDIO_MALFORMED
        else:
            raise AssertionError("damaged media was accepted")


def test_the_size_limit_holds_for_any_encoding() -> None:
    wide = "é" * (
        MAX_CONTROL_MESSAGE_BYTES // 2 + 1
    )  # under the limit in characters, over in bytes
    try:
        parse_client_message(json.dumps({"type": "text", "text": wide}, ensure_ascii=False))
    except ProtocolError as error:
        assert error.code == ErrorCode.TOO_LARGE
    else:
        raise AssertionError("an oversized message was accepted")
