"""The ASR backend interface, its transcript and its error type."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

INPUT_RATE = 16000  # every backend takes int16 mono PCM at this rate


@dataclass(frozen=True)
class Transcript:
    text: str
    final: bool
    language: str | None
    confidence: float | None
    # Other readings of the same audio, most likely first (a beam search's runners-up): the
    # FAQ matcher may find the question in one of them. Never logged or stored.
    alternatives: tuple[str, ...] = ()


class AsrErrorKind(StrEnum):
    MODEL_MISSING = "model_missing"
    FAILED = "failed"


class AsrError(Exception):
    """A model that cannot load or a transcription that failed. The message never holds words."""

    def __init__(self, kind: AsrErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    def __reduce__(self) -> tuple[type[AsrError], tuple[AsrErrorKind, str]]:
        return (AsrError, (self.kind, str(self)))  # raised in a recognition process, re-raised here


class AsrBackend(Protocol):
    """Transcribes one utterance of int16 mono PCM at INPUT_RATE.

    Synchronous and CPU-bound: callers run it in a thread. `hints` are phrases the customer is
    likely to say (the avatar's FAQ questions); a backend that can bias toward them does.
    `alternatives`: up to this many other readings wanted besides the best (a final
    transcript asks for them, a partial does not); a backend without them returns none.
    `language` is the avatar's own language (None: any); `other_languages` the others it
    speaks: a backend that detects languages may hear one of those instead, never another.
    The hints are in `language`: they bias the decoding of that language only.
    """

    name: str

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hints: Sequence[str] = (),
        alternatives: int = 0,
        other_languages: Sequence[str] = (),
    ) -> Transcript: ...


def check_pcm16(audio: np.ndarray) -> np.ndarray:
    """`audio` as a contiguous 1-D int16 array; AsrError(failed) for anything else."""
    if audio.dtype != np.int16 or audio.ndim != 1:
        raise AsrError(
            AsrErrorKind.FAILED, f"expected 1-D int16 audio, got {audio.dtype} {audio.shape}"
        )
    return np.ascontiguousarray(audio)
