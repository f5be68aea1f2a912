"""espeak-ng backend: the offline default; WAV streamed from its stdout, resampled to 16 kHz."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from contextlib import aclosing

import numpy as np

from conversation.tts.base import TtsError, TtsErrorKind, voice_for
from conversation.tts.pcm import PcmBlocks
from conversation.tts.process import stream_stdout
from conversation.tts.wav import WavStreamHeader

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
        argv = self.argv(voice_for(language, voice or None))
        if not words:
            return
        header = WavStreamHeader(self.name)
        blocks: PcmBlocks | None = None
        chunks = stream_stdout(
            argv,
            words.encode("utf-8"),
            source=self.name,
            timeout_s=self.timeout_s,
            classify=_classify,
        )
        # aclosing: when this generator is closed, the process generator must die with it.
        async with aclosing(chunks):
            async for data in chunks:
                if blocks is None:
                    parsed = header.feed(data)
                    if parsed is None:
                        continue
                    wav, data = parsed
                    blocks = PcmBlocks(
                        wav.sample_rate, channels=wav.channels, byte_limit=wav.data_size
                    )
                for block in blocks.feed(data):
                    yield block
        if blocks is None:
            raise TtsError(TtsErrorKind.FAILED, f"{self.name} ended before its audio began")
        for block in blocks.finish():
            yield block
