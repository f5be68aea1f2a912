"""Picks the process's ASR backend: Whisper (the packaged base model unless WHISPER_MODEL names
another), pocketsphinx only when no Whisper model loads or it is asked for by name."""

from __future__ import annotations

import logging
from pathlib import Path

from conversation.asr.base import AsrBackend, AsrError
from conversation.asr.packaged import PackagedModelError, whisper_base
from conversation.asr.pocketsphinx_backend import PocketsphinxAsr
from conversation.asr.whisper_backend import FasterWhisperAsr

logger = logging.getLogger(__name__)

POCKETSPHINX = "pocketsphinx"  # WHISPER_MODEL=pocketsphinx: the small fallback on purpose


def build_asr(
    whisper_model: str | None,
    *,
    device: str,
    compute_type: str,
    models_dir: Path,
    decodes: int = 1,
    threads: int = 0,
) -> tuple[AsrBackend, str]:
    """The backend and a one-line reason for it (for the start-up log and /healthz).

    `whisper_model` unset: Whisper base from its packages, assembled under `models_dir` and
    checked by sha256. A size name or a directory: that model. Anything that fails to load
    falls back to pocketsphinx, and the reason says why. `decodes` may run at once, each on
    `threads` threads.
    """
    if whisper_model == POCKETSPHINX:
        return _chosen(PocketsphinxAsr(), "pocketsphinx: WHISPER_MODEL=pocketsphinx")
    label = whisper_model or "base (packaged)"
    try:
        model = whisper_model or str(whisper_base(models_dir))
        backend = FasterWhisperAsr(
            model,
            device=device,
            compute_type=compute_type,
            cpu_threads=threads,
            num_workers=decodes,
        )
    except (AsrError, PackagedModelError, OSError) as exc:  # OSError: an unwritable models dir
        reason = f"pocketsphinx: Whisper {label} failed to load: {exc}"
        logger.warning("asr: %s", reason)
        return PocketsphinxAsr(), reason
    return _chosen(backend, f"faster-whisper: {label} on {device} ({compute_type})")


def _chosen(backend: AsrBackend, reason: str) -> tuple[AsrBackend, str]:
    logger.info("asr: %s", reason)
    return backend, reason
