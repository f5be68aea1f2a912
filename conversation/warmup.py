"""Load the web process's models before the first customer needs them."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


def _load() -> None:
    from django.conf import settings

    from conversation import speech
    from conversation.llm.embedding import EmbedderUnavailable, MiniLmEmbedder
    from conversation.recognizer import ProcessRecognizer

    if settings.ASR_LOCATION == "web":
        _, reason = speech.recognizer()
        recognizer = speech.local_recognizer()
        if isinstance(recognizer, ProcessRecognizer):
            recognizer.warm()
            reason += ", decoding in a child process"
        log.info("speech recognition in this process: %s", reason)
    else:
        log.info("speech recognition on the speech queue")
    speech.voice_activity()

    try:
        MiniLmEmbedder().embed(["warm up"])
        log.info("FAQ matcher warm: %s", MiniLmEmbedder.name)
    except EmbedderUnavailable:
        log.warning("FAQ matcher without MiniLM: lexical matching only")


def start() -> threading.Thread:
    """In a thread, so the server answers (health checks, sessions) while the model loads."""
    thread = threading.Thread(target=_load, name="warm-up", daemon=True)
    thread.start()
    return thread
