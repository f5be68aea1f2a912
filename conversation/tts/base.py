"""The TTS backend interface, its error type and the avatar-language to espeak-voice map."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from contracts.phonemes import PhonemeSpan

OUTPUT_RATE = 16000  # every backend yields int16 mono PCM at this rate

# Avatar language codes (lower case, "-" separated) to espeak-ng voice names.
ESPEAK_VOICES: dict[str, str] = {
    "en": "en-us",
    "en-us": "en-us",
    "en-gb": "en-gb",
    "de": "de",
    "fr": "fr-fr",
    "fr-fr": "fr-fr",
    "fr-be": "fr-be",
    "fr-ch": "fr-ch",
    "es": "es",
    "es-419": "es-419",
    "es-mx": "es-419",
    "it": "it",
    "pt": "pt",
    "pt-br": "pt-br",
    "nl": "nl",
    "pl": "pl",
    "sv": "sv",
    "tr": "tr",
    "ru": "ru",
    "ja": "ja",
    "ko": "ko",
    "zh": "cmn",
    "zh-cn": "cmn",
    "cmn": "cmn",
    "ar": "ar",
    "hi": "hi",
}

# A voice name never starts with "-" (it would be read as an option) and never walks paths.
_VOICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*)?$")
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


class TtsErrorKind(StrEnum):
    MISSING_PROGRAM = "missing_program"
    FAILED = "failed"
    TIMEOUT = "timeout"
    BAD_VOICE = "bad_voice"


class TtsError(Exception):
    """A synthesis that produced no (or no more) audio. The message never holds the text."""

    def __init__(self, kind: TtsErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class SpeechBlock(np.ndarray[Any, np.dtype[np.int16]]):
    """A block of speech that also carries phoneme timings: the spans the engine reported
    since its previous block, their samples counted (at OUTPUT_RATE) from the first sample of
    the sentence being synthesized. A span may reach into audio of later blocks, never into
    earlier ones. Slices and copies carry none (each span is reported once)."""

    phonemes: tuple[PhonemeSpan, ...]

    def __array_finalize__(self, obj: Any) -> None:
        self.phonemes = ()

    @classmethod
    def of(cls, block: np.ndarray, phonemes: tuple[PhonemeSpan, ...]) -> np.ndarray:
        """`block` with `phonemes` (the block itself when there are none)."""
        if not phonemes:
            return block
        spoken = block.view(cls)
        spoken.phonemes = phonemes
        return spoken


def phonemes_of(block: np.ndarray) -> tuple[PhonemeSpan, ...]:
    """The phoneme spans a TTS block carries: Piper's and Kokoro's when their models report
    durations, espeak-ng's from its library; none otherwise (the renderer then shapes the
    mouth by the audio)."""
    return block.phonemes if isinstance(block, SpeechBlock) else ()


class TtsBackend(Protocol):
    """Speaks one sentence: int16 mono blocks at OUTPUT_RATE, yielded as they are synthesized.

    Cancelling a task awaiting the next block, or closing the iterator, stops the synthesis:
    espeak-ng's process is killed, Piper makes no further sentence. A consumer cancelled while
    it holds a block (awaiting something else) must close the iterator itself, e.g.
    `contextlib.aclosing` (the backends here are async generators); otherwise the synthesis
    ends only when the event loop finalizes the abandoned generator. A block may be a
    `SpeechBlock` carrying the phonemes spoken in it (`phonemes_of`).
    """

    name: str

    def synthesize(
        self, text: str, *, voice: str, language: str
    ) -> AsyncGenerator[np.ndarray, None]: ...


def voice_for(language: str, voice: str | None) -> str:
    """The espeak-ng voice to use: the avatar's own `voice` when set, else one for `language`."""
    if voice:
        if not _VOICE_NAME.match(voice):
            raise TtsError(TtsErrorKind.BAD_VOICE, f"not a valid voice name: {voice[:40]!r}")
        return voice
    code = language.strip().lower().replace("_", "-")
    if code in ESPEAK_VOICES:
        return ESPEAK_VOICES[code]
    base = code.split("-", 1)[0]
    if base in ESPEAK_VOICES:
        return ESPEAK_VOICES[base]
    if _LANGUAGE_CODE.match(base):
        return base  # espeak-ng knows ~100 languages by their bare code
    raise TtsError(TtsErrorKind.BAD_VOICE, f"no voice for language {language[:20]!r}")
