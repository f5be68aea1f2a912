"""RenderRequest as task kwargs: the right context and the phonemes travel, bad input is refused."""

from __future__ import annotations

import msgpack
import pytest

from contracts.messages import PHONEMES_MAX, RIGHT_AUDIO_MAX_BYTES, MessageError, RenderRequest
from contracts.phonemes import PhonemeSpan

FRAME_BYTES = 2 * 640


def request(**overrides: object) -> RenderRequest:
    kwargs: dict[str, object] = {
        "channel": "specific.abc!def",
        "avatar_id": 3,
        "baked_checksum": "0" * 64,
        "renderer": "musetalk",
        "turn_id": "turn",
        "seq": 1,
        "audio": b"\x01\x00" * 640 * 25,
        "idle_start": 2,
        "turn_frame": 10,
        "left_audio": b"\x02\x00" * 6400,
        "right_audio": b"\x03\x00" * 3200,
    }
    return RenderRequest.from_kwargs({**kwargs, **overrides})


def test_right_context_round_trips_through_msgpack_kwargs() -> None:
    sent = request()
    wire = msgpack.unpackb(msgpack.packb(sent.to_kwargs(), use_bin_type=True), raw=False)
    assert RenderRequest.from_kwargs(wire) == sent
    assert "<6400 bytes>" in sent.shown() and b"\x03" not in sent.shown().encode()


def test_right_context_is_optional_for_older_senders() -> None:
    kwargs = request().to_kwargs()
    del kwargs["right_audio"]
    assert RenderRequest.from_kwargs(kwargs).right_audio == b""


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"right_audio": "not bytes"}, "right_audio is not int16 PCM"),
        ({"right_audio": b"\x00" * 3}, "right_audio is not int16 PCM"),
        ({"audio": None}, "audio is not int16 PCM"),
        ({"right_audio": b"\x00" * (RIGHT_AUDIO_MAX_BYTES + 2)}, "right_audio over"),
        ({"audio": b"\x00" * (FRAME_BYTES + 2)}, "not a whole number of frames"),
    ],
)
def test_bad_right_context_is_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(MessageError, match=message):
        request(**overrides)


def test_no_right_context_lets_a_turns_last_chunk_end_on_a_partial_frame() -> None:
    assert request(audio=b"\x00" * (FRAME_BYTES + 2), right_audio=b"").right_audio == b""


def test_phonemes_round_trip_as_symbols_and_sample_numbers() -> None:
    spans = (PhonemeSpan("m", 0, 700), PhonemeSpan("ˈɑː", 700, 4100), PhonemeSpan("b", 4100, 4500))
    sent = request(phonemes=spans)
    packed = msgpack.packb(sent.to_kwargs(), use_bin_type=True)
    wire = msgpack.unpackb(packed, raw=False)
    assert wire["phonemes"] == [["m", 0, 700], ["ˈɑː", 700, 4100], ["b", 4100, 4500]]
    assert RenderRequest.from_kwargs(wire) == sent and sent.phonemes == spans
    assert "<3 items>" in sent.shown() and "ɑ" not in sent.shown()  # Flower shows a count
    old = {k: v for k, v in wire.items() if k != "phonemes"}  # a sender from before phonemes
    assert RenderRequest.from_kwargs(old).phonemes == ()


@pytest.mark.parametrize(
    "phonemes",
    [
        "m",
        [["m", 0]],
        [["m", 5, 2]],
        [["m", -1, 2]],
        [["", 0, 2]],
        [["m" * 9, 0, 2]],
        [["m", 0.5, 2]],
        [[3, 0, 2]],
        [["m", 0, 2]] * (PHONEMES_MAX + 1),
    ],
)
def test_malformed_phonemes_are_refused(phonemes: object) -> None:
    with pytest.raises(MessageError, match="phoneme"):
        request(phonemes=phonemes)
