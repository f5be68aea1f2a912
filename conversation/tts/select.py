"""Picks an avatar's TTS backend: piper when it asks for it and a voice is configured."""

from __future__ import annotations

import logging
import shutil

from conversation.tts.base import TtsBackend, TtsError
from conversation.tts.espeak import EspeakTts
from conversation.tts.piper import PiperTts

logger = logging.getLogger(__name__)


def build_tts(
    tts_backend: str,
    piper_voice: str | None,
    *,
    piper_program: str = "piper",
    espeak_program: str = "espeak-ng",
) -> TtsBackend:
    """The backend for an avatar's `tts_backend` choice; espeak-ng whenever piper cannot run."""
    if tts_backend == "piper":
        if not piper_voice:
            logger.warning("tts: avatar asks for piper but PIPER_VOICE is unset; using espeak-ng")
        elif shutil.which(piper_program) is None:
            logger.warning("tts: piper program %r not found; using espeak-ng", piper_program)
        else:
            try:
                return PiperTts(piper_voice, program=piper_program)
            except TtsError as exc:
                logger.warning("tts: piper voice unusable (%s); using espeak-ng", exc)
    elif tts_backend != "espeak":
        logger.warning("tts: unknown backend %r; using espeak-ng", tts_backend[:20])
    return EspeakTts(program=espeak_program)
