"""An avatar's voice in every language it speaks: its Piper voice where the language has one,
espeak-ng for the others, and espeak-ng again whenever a Piper voice is missing or corrupt
(a warning in the log and in /healthz, never silence)."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path

import numpy as np

from conversation.tts.base import TtsBackend, TtsError, TtsErrorKind
from conversation.tts.espeak import EspeakTts
from conversation.tts.piper import PiperTts, loaded_voices
from conversation.tts.voices import ESPEAK, PIPER, VoiceInfo, VoiceRegistry, installed_voices

logger = logging.getLogger(__name__)

BACKENDS = {"piper": PIPER, "espeak": ESPEAK}  # Avatar.tts_backend -> engine

_fallbacks_lock = threading.Lock()
_fallbacks: dict[str, str] = {}  # voice id -> why this process speaks it with espeak-ng


def voice_fallbacks() -> dict[str, str]:
    """The Piper voices this process could not use, and why: for /healthz."""
    with _fallbacks_lock:
        return dict(_fallbacks)


def _fall_back(voice_id: str, reason: str) -> None:
    with _fallbacks_lock:
        first = voice_id not in _fallbacks
        _fallbacks[voice_id] = reason
    if first:
        logger.warning("tts: %s unusable (%s); speaking with espeak-ng", voice_id, reason)


def _recovered(voice_id: str) -> None:
    with _fallbacks_lock:
        _fallbacks.pop(voice_id, None)


def health() -> dict[str, object]:
    """For /healthz: the Piper voices loaded in this process and those that fell back."""
    fallbacks = voice_fallbacks()
    report: dict[str, object] = {"loaded": loaded_voices(), "fallbacks": fallbacks}
    if fallbacks:
        report["warning"] = "some Piper voices are unusable; espeak-ng speaks instead"
    return report


def engine_for(tts_backend: str) -> str:
    if tts_backend not in BACKENDS:
        logger.warning("tts: unknown backend %r; using espeak-ng", tts_backend[:20])
    return BACKENDS.get(tts_backend, ESPEAK)


def usable_voice(
    registry: VoiceRegistry, wanted: str, language: str, *, engine: str, load: bool = True
) -> VoiceInfo:
    """The voice that will speak `language`: a Piper voice is loaded here (once per process;
    blocking, so call it off the event loop) and replaced by espeak-ng if it fails. With
    `load=False` (a session opening: it must not wait for a model) a Piper voice this process
    already found unusable is replaced, and any other is taken on trust."""
    try:
        voice = registry.resolve(wanted, language, engine=engine)
    except TtsError as error:  # not a voice name, or no voice for the language
        # The session still opens; each sentence then fails the same way: subtitles only.
        logger.warning("tts: no voice for the avatar (%s)", error)
        return VoiceInfo(engine, wanted, language, 0, "")
    missing = wanted and not wanted.startswith(f"{ESPEAK}:") and not registry.find(wanted, PIPER)
    if engine == PIPER and missing:
        _fall_back(f"{PIPER}:{wanted.removeprefix(f'{PIPER}:')}", "not installed")
    if voice.engine != PIPER:
        return voice
    if not load:
        return registry.espeak_for(language) if voice.id in voice_fallbacks() else voice
    try:
        _piper(voice).load()
    except TtsError as error:
        _fall_back(voice.id, str(error))
        return registry.espeak_for(language)
    _recovered(voice.id)
    return voice


@functools.lru_cache(maxsize=32)
def _piper(voice: VoiceInfo) -> PiperTts:
    """The backend of one Piper voice (its model loads on first use, once per process)."""
    assert voice.model_path is not None
    return PiperTts(voice.model_path, voice.config_path)


class AvatarVoice:
    """The TtsBackend of a session: `voice` is the avatar's voice (an id from `usable_voice`,
    a registry name, or "" for each language's default); `language` the turn's language."""

    name = "voice"

    def __init__(
        self, registry: VoiceRegistry, *, engine: str, espeak: EspeakTts | None = None
    ) -> None:
        self.registry = registry
        self.engine = engine
        self.espeak = espeak or EspeakTts()
        # Set once a Piper voice failed and espeak-ng spoke in its place: a clip of this
        # session's voice must not be stored then (its key names the Piper voice).
        self.fell_back = False

    async def synthesize(
        self, text: str, *, voice: str, language: str
    ) -> AsyncGenerator[np.ndarray, None]:
        chosen = self.registry.resolve(voice, language, engine=self.engine)
        if chosen.engine == PIPER:
            started = False
            try:
                # aclosing here and below: closing this generator (a barge-in) must end the
                # synthesis it drives now, not when the garbage collector finds it.
                async with aclosing(
                    _piper(chosen).synthesize(text, voice="", language="")
                ) as neural:
                    async for block in neural:
                        started = True
                        yield block
                return
            except TtsError as error:
                if started or error.kind is not TtsErrorKind.BAD_VOICE:
                    raise
                _fall_back(chosen.id, str(error))
                self.fell_back = True
            chosen = self.registry.espeak_for(language)
        async with aclosing(
            self.espeak.synthesize(text, voice=chosen.name, language=language)
        ) as program:
            async for block in program:
                yield block


def build_tts(
    tts_backend: str,
    *,
    voices: VoiceRegistry | None = None,
    voices_dir: Path | None = None,
    espeak_program: str = "espeak-ng",
) -> TtsBackend:
    """The TTS of an avatar whose `tts_backend` is `piper` (the default) or `espeak`, over
    `voices` (else the voices installed now, with those in `voices_dir`)."""
    return AvatarVoice(
        voices if voices is not None else installed_voices(voices_dir),
        engine=engine_for(tts_backend),
        espeak=EspeakTts(program=espeak_program),
    )
