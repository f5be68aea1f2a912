"""ASR backends for recognition child processes in tests: built by name in the child."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from conversation.asr.base import AsrBackend, AsrError, AsrErrorKind, Transcript


class WhereAsr:
    """Says which process decoded; a first sample of 1 kills that process, 2 fails typed."""

    name = "where"

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hints: Sequence[str] = (),
        alternatives: int = 0,
        other_languages: Sequence[str] = (),
    ) -> Transcript:
        if len(audio) and audio[0] == 1:
            os._exit(3)
        if len(audio) and audio[0] == 2:
            raise AsrError(AsrErrorKind.FAILED, "no words in this")
        return Transcript(text=f"pid {os.getpid()}", final=True, language=language, confidence=None)


def where() -> AsrBackend:
    return WhereAsr()
