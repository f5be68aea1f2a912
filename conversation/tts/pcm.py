"""Raw int16 bytes at the synthesizer's rate to 16 kHz int16 blocks of about 20-100 ms."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncGenerator, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from contracts.phonemes import PhonemeSpan
from conversation.tts.base import OUTPUT_RATE, SpeechBlock, TtsError, TtsErrorKind
from conversation.tts.resample import StreamResampler

MIN_BLOCK = OUTPUT_RATE * 20 // 1000
MAX_BLOCK = OUTPUT_RATE * 100 // 1000
# The engines' marks around a sentence or a pad, and stress marks (joined to the sound after
# them). Other modifier letters (length, aspiration, palatalization), combining marks, tone
# digits and symbols belong to the sound before them.
_BOUNDARY = {"^", "$", "_"}
_STRESS = {"ˈ", "ˌ"}
_IPA_MAX = 8  # characters of one span's IPA (RenderRequest refuses longer)


class PcmBlocks:
    """Carries odd bytes, resampler state and a short remainder from one read to the next."""

    def __init__(self, in_rate: int, *, channels: int = 1, byte_limit: int | None = None) -> None:
        self._resampler = StreamResampler(in_rate, OUTPUT_RATE)
        self._frame_bytes = 2 * channels
        self._channels = channels
        self._carry = b""
        self._pending: list[np.ndarray] = []
        self._pending_len = 0
        self._bytes_left = byte_limit

    def feed(self, data: bytes) -> list[np.ndarray]:
        """The blocks that `data` completes (possibly none)."""
        if self._bytes_left is not None:
            data = data[: self._bytes_left]
            self._bytes_left -= len(data)
        data = self._carry + data
        usable = len(data) - len(data) % self._frame_bytes
        self._carry = data[usable:]
        if usable:
            samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float64)
            if self._channels > 1:
                samples = samples.reshape(-1, self._channels).mean(axis=1)
            self._add(self._resampler.process(samples))
        return self._take(MIN_BLOCK)

    def finish(self) -> list[np.ndarray]:
        """The rest, after the end of the stream: the resampler's tail and a last short block."""
        self._carry = b""
        self._add(self._resampler.flush())
        return self._take(1)

    def _add(self, samples: np.ndarray) -> None:
        if samples.size:
            pcm = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
            self._pending.append(pcm)
            self._pending_len += pcm.size

    def _take(self, minimum: int) -> list[np.ndarray]:
        if self._pending_len < minimum:
            return []
        joined = np.concatenate(self._pending)
        self._pending, self._pending_len = [], 0
        blocks = [joined[i : i + MAX_BLOCK] for i in range(0, joined.size, MAX_BLOCK)]
        if blocks[-1].size < minimum:
            tail = blocks.pop()
            self._pending, self._pending_len = [tail], tail.size
        return blocks


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece of speech with the phonemes spoken in it, their samples at the engine's rate
    counted from the piece's first sample."""

    pcm: bytes
    phonemes: tuple[PhonemeSpan, ...] = ()


def spans_from_alignments(alignments: Iterable[tuple[str, int]]) -> tuple[PhonemeSpan, ...]:
    """Phoneme spans from an engine's symbols and the samples each takes, in order from the
    piece's first sample: a stress mark joined to the sound after it and a length mark to the
    one before, a word's gap to the sound that ends the word; pauses (punctuation, pads, the
    sentence's ends) are left out."""
    spans: list[PhonemeSpan] = []
    stress, stress_start = "", 0
    at = 0
    speech_before = False  # the symbol before was a sound (not a pause)
    for symbol, samples in alignments:
        start = at
        at += int(samples)
        kind = unicodedata.category(symbol[:1]) if symbol.strip() else "Zs"
        if symbol in _STRESS:
            if not stress:
                stress, stress_start = symbol, start
            continue
        if symbol in _BOUNDARY or kind[0] in "PZC":
            if kind[0] == "Z" and speech_before:  # a word's gap: the word's last sound goes on
                spans[-1] = PhonemeSpan(spans[-1].ipa, spans[-1].start, at)
            else:
                speech_before, stress = False, ""
            continue
        if kind == "Lm" or kind[0] in "MNS":  # belongs to the sound before
            if speech_before:
                last = spans[-1]
                joined = last.ipa + symbol if len(last.ipa) < _IPA_MAX else last.ipa
                spans[-1] = PhonemeSpan(joined, last.start, at)
            continue
        first = stress_start if stress else start
        spans.append(PhonemeSpan((stress + symbol)[:_IPA_MAX], first, at))
        stress, speech_before = "", True
    return tuple(spans)


class _Timings:
    """Moves each piece's phonemes onto the 16 kHz timeline of the sentence and holds them
    until the next block goes out (the resampler lags: a piece may make no block at once)."""

    def __init__(self, rate: int) -> None:
        self._rate = rate
        self._start = 0  # the piece's first sample in the sentence, at the engine's rate
        self._held: list[PhonemeSpan] = []

    def add(self, piece: Piece) -> None:
        def at(sample: int) -> int:
            return (self._start + sample) * OUTPUT_RATE // self._rate

        self._held += [PhonemeSpan(p.ipa, at(p.start), at(p.end)) for p in piece.phonemes]
        self._start += len(piece.pcm) // 2

    def attach(self, blocks: list[np.ndarray]) -> list[np.ndarray]:
        if blocks and self._held:
            blocks[0] = SpeechBlock.of(blocks[0], tuple(self._held))
            self._held = []
        return blocks


async def stream_pieces(
    pool: Executor, pieces: Iterator[bytes | Piece], rate: int, *, stop: Any, engine: str
) -> AsyncGenerator[np.ndarray, None]:
    """The blocks of an in-process engine's pieces of speech (int16 bytes at `rate`, or
    `Piece`s with their phonemes: those come out on `SpeechBlock`s), each piece made in
    `pool`, one at a time as the consumer asks: the event loop never waits on the model.
    `stop`, the onnxruntime RunOptions the pieces run with, is terminated when the stream ends
    early (cancelled or closed), so the piece being computed stops within milliseconds and
    nothing asks for another."""
    loop = asyncio.get_running_loop()
    blocks = PcmBlocks(rate)
    timings = _Timings(rate)
    try:
        while True:
            try:
                made = await loop.run_in_executor(pool, next, pieces, None)
            except Exception as exc:  # the engine's errors; the text stays out of the log
                raise TtsError(
                    TtsErrorKind.FAILED, f"{engine} failed ({type(exc).__name__})"
                ) from None
            if made is None:
                break
            piece = made if isinstance(made, Piece) else Piece(made)
            timings.add(piece)
            for block in timings.attach(blocks.feed(piece.pcm)):
                yield block
    finally:
        stop.terminate = True
    for block in timings.attach(blocks.finish()):
        yield block


def drain(pieces: Iterator[bytes | Piece], engine: str) -> None:
    """Make every piece and drop it (a warm-up); blocking, raises TtsError(FAILED)."""
    try:
        for _ in pieces:
            pass
    except Exception as exc:  # the engine's own errors
        raise TtsError(TtsErrorKind.FAILED, f"{engine} failed ({type(exc).__name__})") from None
