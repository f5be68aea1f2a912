"""Picks the process's ASR backend: faster-whisper when a Whisper model loads, else pocketsphinx."""

from __future__ import annotations

import logging

from conversation.asr.base import AsrBackend, AsrError
from conversation.asr.pocketsphinx_backend import PocketsphinxAsr
from conversation.asr.whisper_backend import FasterWhisperAsr

logger = logging.getLogger(__name__)


def build_asr(
    whisper_model: str | None, *, device: str, compute_type: str
) -> tuple[AsrBackend, str]:
    """The backend and a one-line reason for it (for the start-up log and /healthz)."""
    backend: AsrBackend
    if not whisper_model:
        backend, reason = PocketsphinxAsr(), "pocketsphinx: WHISPER_MODEL is not set"
    else:
        try:
            backend = FasterWhisperAsr(whisper_model, device=device, compute_type=compute_type)
            reason = f"faster-whisper: {whisper_model} on {device} ({compute_type})"
        except AsrError as exc:
            backend, reason = (
                PocketsphinxAsr(),
                f"pocketsphinx: Whisper model failed to load: {exc}",
            )
            logger.warning("asr: %s", reason)
            return backend, reason
    logger.info("asr: %s", reason)
    return backend, reason
