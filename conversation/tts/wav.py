"""WAV files: the incremental parser for the header a synthesizer streams ahead of its PCM
data, and the one writer of mono 16-bit files."""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass

import numpy as np

from conversation.tts.base import TtsError, TtsErrorKind

# Streaming writers cannot seek back to fix the sizes: espeak-ng writes 0x7ffff000, others
# 0 or 0xffffffff. Any of these means "until end of stream".
_PLACEHOLDER_FLOOR = 0x7FFF0000
_MAX_HEADER = 64 * 1024
_PCM = 1
_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True, slots=True)
class WavFormat:
    sample_rate: int
    channels: int
    bits: int
    data_size: int | None  # None: a placeholder, read to the end of the stream


class WavStreamHeader:
    """Feed bytes until `feed` returns the format; the bytes after the header come back with it."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._buf = b""
        self._format: tuple[int, int, int] | None = None

    def feed(self, data: bytes) -> tuple[WavFormat, bytes] | None:
        self._buf += data
        if len(self._buf) < 12:
            return None
        if self._buf[:4] != b"RIFF" or self._buf[8:12] != b"WAVE":
            raise self._error("did not write a WAV header")
        pos = 12
        while len(self._buf) >= pos + 8:
            chunk_id = self._buf[pos : pos + 4]
            (size,) = struct.unpack_from("<I", self._buf, pos + 4)
            body = pos + 8
            if chunk_id == b"data":
                return self._finish(size, self._buf[body:])
            end = body + size + (size & 1)
            if size >= _PLACEHOLDER_FLOOR or end > _MAX_HEADER:
                raise self._error("wrote a malformed WAV header")
            if len(self._buf) < end:
                return None
            if chunk_id == b"fmt ":
                self._format = self._parse_fmt(self._buf[body : body + size])
            pos = end
        if len(self._buf) > _MAX_HEADER:
            raise self._error("wrote a WAV header without data")
        return None

    def _parse_fmt(self, body: bytes) -> tuple[int, int, int]:
        if len(body) < 16:
            raise self._error("wrote a short WAV fmt chunk")
        tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
        if tag not in (_PCM, _EXTENSIBLE) or bits != 16 or channels < 1 or rate <= 0:
            raise self._error(f"wrote unsupported audio (format {tag}, {bits} bit)")
        return rate, channels, bits

    def _finish(self, size: int, rest: bytes) -> tuple[WavFormat, bytes]:
        if self._format is None:
            raise self._error("wrote WAV data before its format")
        rate, channels, bits = self._format
        data_size = None if size == 0 or size >= _PLACEHOLDER_FLOOR else size
        return WavFormat(rate, channels, bits, data_size), rest

    def _error(self, what: str) -> TtsError:
        return TtsError(TtsErrorKind.FAILED, f"{self._source} {what}")


def wav_bytes(pcm: np.ndarray, rate: int) -> bytes:
    """Mono 16-bit little-endian samples as a whole WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(pcm.astype("<i2").tobytes())
    return out.getvalue()
