"""Text-to-speech stage: sentence text in, 16 kHz int16 PCM blocks out, streaming."""

from __future__ import annotations

from conversation.tts.base import OUTPUT_RATE, TtsBackend, TtsError, TtsErrorKind, voice_for

__all__ = ["OUTPUT_RATE", "TtsBackend", "TtsError", "TtsErrorKind", "voice_for"]
