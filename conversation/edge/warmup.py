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
    from conversation.tts.select import warm_voice
    from conversation.tts.voices import installed_voices
    from conversation.voice import models
    from conversation.voice.recognizer import ProcessRecognizer

    # The FAQ matcher first: every turn needs it, typed or spoken.
    try:
        MiniLmEmbedder().embed(["warm up"])
        log.info("FAQ matcher warm: %s", MiniLmEmbedder.name)
    except EmbedderUnavailable:
        log.warning("FAQ matcher without MiniLM: lexical matching only")

    # The neural voices next: loading them takes seconds that the first answer would wait
    # (Piper's English voice 0.4 s, Kokoro's Japanese model about 2 s).
    voices = installed_voices(settings.TTS_VOICES_DIR)
    for language in ("en", "ja"):
        try:
            voice = warm_voice(voices, language, models_dir=settings.MODELS_DIR)
            log.info("voice warm: %s", voice.id)
        except TtsError as error:
            log.warning("the %s voice failed its first sentence (%s)", language, error)

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
