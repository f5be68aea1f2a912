from __future__ import annotations

import struct
import subprocess

import pytest

from conversation.tts.base import TtsError, TtsErrorKind
from conversation.tts.wav import WavFormat, WavStreamHeader


def header(*chunks: bytes, data_size: int = 0x7FFFF000, rate: int = 22050) -> bytes:
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + fmt + b"".join(chunks) + struct.pack("<4sI", b"data", data_size)
    return b"RIFF" + struct.pack("<I", 0x7FFFF024) + body


def feed_bytewise(parser: WavStreamHeader, data: bytes) -> tuple[WavFormat, bytes]:
    for i in range(len(data)):
        result = parser.feed(data[i : i + 1])
        if result is not None:
            wav, rest = result
            return wav, rest + data[i + 1 :]
    raise AssertionError("header never completed")


def test_espeak_placeholder_header_split_byte_by_byte() -> None:
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "--stdin", "-v", "en-us"], input=b"Hello.", capture_output=True
    ).stdout

    fmt, pcm = feed_bytewise(WavStreamHeader("espeak-ng"), wav)

    assert fmt == WavFormat(sample_rate=22050, channels=1, bits=16, data_size=None)
    assert len(pcm) == len(wav) - 44


def test_skips_other_chunks_and_keeps_a_real_data_size() -> None:
    extra = struct.pack("<4sI", b"LIST", 5) + b"abcde\0"  # odd size: padded to even
    data = header(extra, data_size=8) + b"\x01\x00" * 4 + b"trailer"

    fmt, rest = feed_bytewise(WavStreamHeader("x"), data)

    assert fmt.data_size == 8
    assert rest.startswith(b"\x01\x00" * 4)


@pytest.mark.parametrize(
    "data",
    [
        b"Usage: espeak-ng [options] [words]\n" * 3,
        header(rate=22050).replace(b"\x10\x00\x00\x00\x01\x00", b"\x10\x00\x00\x00\x03\x00"),
    ],
)
def test_unusable_output_is_a_failure(data: bytes) -> None:
    with pytest.raises(TtsError) as caught:
        WavStreamHeader("espeak-ng").feed(data)
    assert caught.value.kind is TtsErrorKind.FAILED
