"""RenderRequest as task kwargs: the right context travels, bad audio is refused at decode."""

from __future__ import annotations

import msgpack
import pytest

from contracts.messages import RIGHT_AUDIO_MAX_BYTES, MessageError, RenderRequest

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
