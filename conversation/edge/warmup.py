"""Load the web process's models before the first customer needs them."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

_started = threading.Event()
_finished = threading.Event()


def state() -> str:
    """`warm`, `warming`, or `off` (a process that serves no sessions runs no warm-up)."""
    if _finished.is_set():
        return "warm"
    return "warming" if _started.is_set() else "off"


def _load() -> None:
    try:
        _load_models()
    finally:
        _finished.set()  # a model that failed to load is logged; the process serves without it


def _load_models() -> None:
    from django.conf import settings

    from conversation.llm.embedding import EmbedderUnavailable, MiniLmEmbedder
    from conversation.tts.base import TtsError
    from conversation.tts.piper import PiperTts
    from conversation.tts.select import usable_voice
    from conversation.tts.voices import PIPER, installed_voices
    from conversation.voice import models
    from conversation.voice.recognizer import ProcessRecognizer

    # The FAQ matcher first: every turn needs it, typed or spoken.
    try:
        MiniLmEmbedder().embed(["warm up"])
        log.info("FAQ matcher warm: %s", MiniLmEmbedder.name)
    except EmbedderUnavailable:
        log.warning("FAQ matcher without MiniLM: lexical matching only")

    # The neural voice next: loading it takes about 0.4 s that the first answer would wait.
    # (a voice that fails here is logged by `usable_voice` and speaks with espeak-ng)
    voice = usable_voice(installed_voices(settings.TTS_VOICES_DIR), "", "en", engine=PIPER)
    try:
        if voice.model_path is not None:
            PiperTts(voice.model_path, voice.config_path).warm()
        log.info("voice warm: %s", voice.id)
    except TtsError as error:
        log.warning("voice %s failed its first sentence (%s)", voice.id, error)

    if settings.ASR_LOCATION == "web":
        _, reason = models.recognizer()
        recognizer = models.local_recognizer()
        if isinstance(recognizer, ProcessRecognizer):
            recognizer.warm()
            reason += ", decoding in a child process"
        log.info("speech recognition in this process: %s", reason)
    else:
        log.info("speech recognition on the speech queue")
    models.voice_activity()


def start() -> threading.Thread:
    """In a thread, so the server answers (health checks, sessions) while the model loads;
    `/healthz` answers 503 (`warm: warming`) until it is done, so that a load balancer sends
    customers elsewhere meanwhile."""
    _started.set()
    thread = threading.Thread(target=_load, name="warm-up", daemon=True)
    thread.start()
    return thread
