"""espeak-ng backend: the offline default; WAV streamed from its stdout, resampled to 16 kHz.

The phoneme timings come from the same engine's library (libespeak-ng, through ctypes), which
reports each phoneme's first sample while it synthesizes: the text is synthesized there too,
in milliseconds and with the command's settings, for its phoneme events only. The command's
audio stays the audio (its own process: a timeout kills it, a barge-in too), and its length
is checked against the library's; where the library is missing, the voice speaks without
timings and the mouth follows the audio.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import logging
import os
import re
import threading
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from typing import Any

import numpy as np

from contracts.phonemes import PhonemeSpan
from conversation.tts.base import OUTPUT_RATE, SpeechBlock, TtsError, TtsErrorKind, voice_for
from conversation.tts.pcm import PcmBlocks, spans_from_alignments
from conversation.tts.process import stream_stdout
from conversation.tts.wav import WavStreamHeader

log = logging.getLogger(__name__)

# Control characters other than tab and newline have no business in speech.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _classify(returncode: int, stderr: bytes) -> TtsErrorKind:
    if b"voice" in stderr.lower():
        return TtsErrorKind.BAD_VOICE
    return TtsErrorKind.FAILED


def speakable(text: str) -> str:
    """The text as espeak-ng should read it: plain words, never its phoneme input syntax."""
    # "[[...]]" switches espeak-ng to phoneme mnemonics; answer text must be read as words.
    return _CONTROL.sub(" ", text).replace("[[", "[ [").strip()


class _Event(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [
            ("number", ctypes.c_int),
            ("name", ctypes.c_char_p),
            ("string", ctypes.c_char * 8),
        ]

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _Id),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)
# speak_lib.h: synchronous output, phoneme events named in IPA, UTF-8 text with the pause the
# command adds at its end, the rate and pitch parameters, the list end and phoneme events.
_SYNCHRONOUS, _PHONEME_EVENTS_IN_IPA = 2, 0x0001 | 0x0002
_UTF8_WITH_END_PAUSE = 0x0001 | 0x1000
_RATE, _PITCH = 1, 3
_LIST_END, _PHONEME = 0, 7
_PAUSE = "_"
# The library keeps a little state from one text to the next (the command starts afresh): its
# audio is the command's to the sample for a process's first text and then within a few ms
# (14 samples of 39,363 for an English sentence, 16 ms at most for French after English).
# More than a video frame apart, the timings would show: the log says so.
_DRIFT_S = 0.04


class _PhonemeClock:
    """libespeak-ng in this process, for phoneme events only. Its state is global to the
    process, so every call runs on its one thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="espeak-phonemes")
        self._lib: Any = None
        self._rate = 0
        self._broken = ""
        self._events: list[tuple[str, int]] = []
        self._samples = 0
        self._callback = _CALLBACK(self._collect)  # kept: the library calls it back

    async def timings(
        self, text: str, voice: str, rate_wpm: int, pitch: int | None
    ) -> tuple[int, list[tuple[str, int]]] | None:
        """(sample rate, [(symbol, samples)]) of `text` spoken as the command speaks it, or
        None where the library cannot tell."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._time, text, voice, rate_wpm, pitch)

    def _time(
        self, text: str, voice: str, rate_wpm: int, pitch: int | None
    ) -> tuple[int, list[tuple[str, int]]] | None:
        if not self._load():
            return None
        lib = self._lib
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            return None
        lib.espeak_SetParameter(_RATE, rate_wpm, 0)
        lib.espeak_SetParameter(_PITCH, 50 if pitch is None else pitch, 0)
        self._events, self._samples = [], 0
        data = text.encode("utf-8")
        if lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _UTF8_WITH_END_PAUSE, None, None) != 0:
            return None
        if not self._events:
            return None
        # Event samples can run past the audio or back a little at a pause: kept in order.
        total, at, points = self._samples, 0, [(_PAUSE, 0)]
        for symbol, sample in self._events:
            at = min(max(at, sample), total)
            points.append((symbol or _PAUSE, at))
        points.append((_PAUSE, total))
        return self._rate, [
            (symbol, end - start) for (symbol, start), (_, end) in itertools.pairwise(points)
        ]

    def _collect(self, wav: Any, count: int, events: Any) -> int:
        self._samples += max(0, count)
        index = 0
        while events[index].type != _LIST_END:
            event = events[index]
            if event.type == _PHONEME:
                symbol = event.id.string.decode("utf-8", "replace").strip("\x00")
                self._events.append((symbol, event.sample))
            index += 1
        return 0

    def _load(self) -> bool:
        if self._lib is not None:
            return True
        if self._broken:
            return False
        try:
            lib = ctypes.CDLL("libespeak-ng.so.1")
            rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, None, _PHONEME_EVENTS_IN_IPA)
            if rate <= 0:
                raise OSError("espeak_Initialize failed")
            lib.espeak_SetSynthCallback(self._callback)
        except (OSError, AttributeError) as exc:
            self._broken = f"{type(exc).__name__}"
            log.warning("espeak-ng: no phoneme timings (libespeak-ng: %s)", self._broken)
            return False
        self._lib, self._rate = lib, rate
        return True


_clock_lock = threading.Lock()
_clock: _PhonemeClock | None = None


def phoneme_clock() -> _PhonemeClock:
    """The process's one handle on libespeak-ng."""
    global _clock
    with _clock_lock:
        if _clock is None:
            _clock = _PhonemeClock()
        return _clock


class EspeakTts:
    """Runs `espeak-ng --stdout` per sentence, the text on stdin so it never reaches argv."""

    name = "espeak-ng"

    def __init__(
        self,
        program: str = "espeak-ng",
        rate_wpm: int = 175,
        pitch: int | None = None,
        *,
        timeout_s: float = 15.0,
    ) -> None:
        if not 80 <= rate_wpm <= 450:
            raise ValueError("rate_wpm must be within 80..450")
        if pitch is not None and not 0 <= pitch <= 99:
            raise ValueError("pitch must be within 0..99")
        self.program = program
        self.rate_wpm = rate_wpm
        self.pitch = pitch
        self.timeout_s = timeout_s
        # The library's timings fit the audio of the engine it belongs to, not another program.
        self.timed = os.path.basename(program) == "espeak-ng"

    def argv(self, voice: str) -> list[str]:
        """The command line: options only (the voice is validated by `voice_for`)."""
        # --stdin reads the whole text before speaking: no cut mid-word at a line buffer.
        argv = [self.program, "--stdout", "--stdin", "-b", "1", "-v", voice]
        argv += ["-s", str(self.rate_wpm)]
        if self.pitch is not None:
            argv += ["-p", str(self.pitch)]
        return argv

    async def synthesize(
        self, text: str, *, voice: str, language: str
    ) -> AsyncGenerator[np.ndarray, None]:
        words = speakable(text)
        chosen = voice_for(language, voice or None)
        argv = self.argv(chosen)
        if not words:
            return
        timings = (
            asyncio.ensure_future(phoneme_clock().timings(words, chosen, self.rate_wpm, self.pitch))
            if self.timed
            else None
        )
        header = WavStreamHeader(self.name)
        blocks: PcmBlocks | None = None
        rate, samples, expected = 0, 0, 0
        chunks = stream_stdout(
            argv,
            words.encode("utf-8"),
            source=self.name,
            timeout_s=self.timeout_s,
            classify=_classify,
        )

        async def stamped(block: np.ndarray) -> np.ndarray:
            """The first block with every phoneme of the text; the others as they are."""
            nonlocal timings, expected
            if timings is None:
                return block
            timed = await timings
            timings, expected = None, _length(timed)
            return SpeechBlock.of(block, _spans(timed, rate))

        # aclosing: when this generator is closed, the process generator must die with it.
        try:
            async with aclosing(chunks):
                async for data in chunks:
                    if blocks is None:
                        parsed = header.feed(data)
                        if parsed is None:
                            continue
                        wav, data = parsed
                        rate = wav.sample_rate
                        blocks = PcmBlocks(rate, channels=wav.channels, byte_limit=wav.data_size)
                    samples += len(data) // 2
                    for block in blocks.feed(data):
                        yield await stamped(block)
            if blocks is None:
                raise TtsError(TtsErrorKind.FAILED, f"{self.name} ended before its audio began")
            for block in blocks.finish():
                yield await stamped(block)
            if expected and abs(expected - samples) > rate * _DRIFT_S:
                log.warning(
                    "espeak-ng: phoneme timings for %d samples, audio of %d: the command and "
                    "libespeak-ng differ",
                    expected,
                    samples,
                )
        finally:
            if timings is not None:
                timings.cancel()


def _length(timed: tuple[int, list[tuple[str, int]]] | None) -> int:
    """How many samples the library's phonemes take, pauses included (0: none came)."""
    return sum(count for _, count in timed[1]) if timed is not None else 0


def _spans(timed: tuple[int, list[tuple[str, int]]] | None, rate: int) -> tuple[PhonemeSpan, ...]:
    """The library's phonemes on the 16 kHz timeline of the command's audio at `rate`."""
    if timed is None or timed[0] != rate:
        return ()
    return tuple(
        PhonemeSpan(span.ipa, span.start * OUTPUT_RATE // rate, span.end * OUTPUT_RATE // rate)
        for span in spans_from_alignments(timed[1])
    )
