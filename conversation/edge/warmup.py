"""Load the web process's models before the first customer needs them."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_started = threading.Event()
_finished = threading.Event()


def state() -> str:
    """`warm`, `warming`, or `off` (a process that serves no sessions runs no warm-up)."""
    if _finished.is_set():
        return "warm"
    return "warming" if _started.is_set() else "off"


def _load() -> None:
    from django.db import connections

    try:
        _load_models()
    finally:
        connections.close_all()  # this thread's, opened to read the avatars
        _finished.set()  # a model that failed to load is logged; the process serves without it


def _load_models() -> None:
    from django.conf import settings

    from conversation.llm.embedding import EmbedderUnavailable, MiniLmEmbedder
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
    warm_voices(settings.TTS_VOICES_DIR, settings.MODELS_DIR)

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


def voices_in_use() -> list[tuple[str, str, str]]:
    """(language, voice asked for, engine) of every language each usable avatar (ready, with
    valid consent) speaks, once each: the voices its sessions will speak with. An avatar being
    baked counts as usable: on a fresh start the demo avatar's bake ends after this runs."""
    from avatars.selectors import avatar_list_public
    from conversation.tts.select import engine_for

    wanted = (
        (language, avatar.voice_for(language), engine_for(avatar.tts_backend))
        for avatar in avatar_list_public(baking=True).order_by("pk")
        for language in avatar.languages
    )
    return list(dict.fromkeys(wanted))


def warm_voices(voices_dir: Path | None, models_dir: Path) -> list[str]:
    """Load and try the neural voices of `voices_in_use`; their ids, each once."""
    from django.db import DatabaseError

    from conversation.tts.base import TtsError
    from conversation.tts.select import warm_voice
    from conversation.tts.voices import NEURAL, installed_voices

    try:
        wanted = voices_in_use()
    except DatabaseError as error:  # e.g. not migrated yet: sessions load their voice later
        log.warning("no voice warmed: the avatars could not be read (%s)", type(error).__name__)
        return []
    registry = installed_voices(voices_dir)
    warm: list[str] = []
    for language, voice, engine in wanted:
        try:
            spoke = warm_voice(
                registry, language, wanted=voice, engine=engine, models_dir=models_dir
            )
        except TtsError as error:
            log.warning("the %s voice failed its first sentence (%s)", language, error)
            continue
        if spoke.engine in NEURAL and spoke.id not in warm:  # espeak-ng has nothing to load
            warm.append(spoke.id)
            log.info("voice warm: %s", spoke.id)
    if not wanted:
        log.info("no usable avatar yet: no voice warmed")
    return warm


def start() -> threading.Thread:
    """In a thread, so the server answers (health checks, sessions) while the model loads;
    `/healthz` answers 503 (`warm: warming`) until it is done, so that a load balancer sends
    customers elsewhere meanwhile."""
    _started.set()
    thread = threading.Thread(target=_load, name="warm-up", daemon=True)
    thread.start()
    return thread
