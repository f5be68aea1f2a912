"""An avatar's voice in every language it speaks: a neural voice where the language has one
(Piper, or Kokoro for Japanese), espeak-ng for the others, and espeak-ng again whenever a
neural voice is missing or corrupt (a warning in the log and in /healthz, never silence)."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path

import numpy as np

from avatarsite.env import PACKAGED_MODELS_DIR
from conversation.tts.base import TtsBackend, TtsError, TtsErrorKind
from conversation.tts.espeak import EspeakTts
from conversation.tts.kokoro import KokoroTts, loaded_models
from conversation.tts.piper import PiperTts, loaded_voices
from conversation.tts.voices import (
    ESPEAK,
    KOKORO,
    NEURAL,
    PIPER,
    VoiceInfo,
    VoiceRegistry,
    installed_voices,
)

logger = logging.getLogger(__name__)

BACKENDS = {"piper": PIPER, "espeak": ESPEAK}  # Avatar.tts_backend -> engine

_fallbacks_lock = threading.Lock()
_fallbacks: dict[str, str] = {}  # voice id -> why this process speaks it with espeak-ng


def voice_fallbacks() -> dict[str, str]:
    """The neural voices this process could not use, and why: for /healthz."""
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
    """For /healthz: the neural voices loaded in this process and those that fell back."""
    fallbacks = voice_fallbacks()
    loaded = loaded_voices() + loaded_models()
    report: dict[str, object] = {"loaded": loaded, "fallbacks": fallbacks}
    if fallbacks:
        report["warning"] = "some neural voices are unusable; espeak-ng speaks instead"
    return report


def engine_for(tts_backend: str) -> str:
    if tts_backend not in BACKENDS:
        logger.warning("tts: unknown backend %r; using espeak-ng", tts_backend[:20])
    return BACKENDS.get(tts_backend, ESPEAK)


def usable_voice(
    registry: VoiceRegistry,
    wanted: str,
    language: str,
    *,
    engine: str,
    load: bool = True,
    models_dir: Path = PACKAGED_MODELS_DIR,
) -> VoiceInfo:
    """The voice that will speak `language`: a neural voice is loaded here (once per process;
    blocking, so call it off the event loop) and replaced by espeak-ng if it fails. With
    `load=False` (a session opening: it must not wait for a model) a neural voice this process
    already found unusable is replaced, and any other is taken on trust. `models_dir` is
    where packaged models (Kokoro's) are assembled."""
    try:
        voice = registry.resolve(wanted, language, engine=engine)
    except TtsError as error:  # not a voice name, or no voice for the language
        # The session still opens; each sentence then fails the same way: subtitles only.
        logger.warning("tts: no voice for the avatar (%s)", error)
        return VoiceInfo(engine, wanted, language, 0, "")
    found = registry.find(wanted) if wanted else None
    neural = found is not None and found.engine in NEURAL
    missing = wanted and not wanted.startswith(f"{ESPEAK}:") and not neural
    if engine == PIPER and missing:
        named = wanted if wanted.partition(":")[0] in NEURAL else f"{PIPER}:{wanted}"
        _fall_back(named, "not installed")
    if voice.engine not in NEURAL:
        return voice
    if not load:
        return registry.espeak_for(language) if voice.id in voice_fallbacks() else voice
    try:
        _neural(voice, models_dir).load()
    except TtsError as error:
        _fall_back(voice.id, str(error))
        return registry.espeak_for(language)
    _recovered(voice.id)
    return voice


def warm_voice(
    registry: VoiceRegistry,
    language: str,
    *,
    wanted: str = "",
    engine: str = PIPER,
    models_dir: Path = PACKAGED_MODELS_DIR,
) -> VoiceInfo:
    """Load the voice that speaks `language` for an avatar asking for `wanted` ("" for the
    language's default) and speak a word with it, so that the first answer does not wait for
    it; blocking. Raises TtsError when a neural voice fails its first word (one that fails to
    load is logged by `usable_voice` and espeak-ng speaks instead)."""
    voice = usable_voice(registry, wanted, language, engine=engine, models_dir=models_dir)
    if voice.engine in NEURAL:
        _neural(voice, models_dir).warm()
    return voice


@functools.lru_cache(maxsize=32)
def _neural(voice: VoiceInfo, models_dir: Path) -> PiperTts | KokoroTts:
    """The backend of one neural voice (its model loads on first use, once per process)."""
    if voice.engine == KOKORO:
        return KokoroTts(models_dir)
    assert voice.model_path is not None
    return PiperTts(voice.model_path, voice.config_path)


class AvatarVoice:
    """The TtsBackend of a session: `voice` is the avatar's voice (an id from `usable_voice`,
    a registry name, or "" for each language's default); `language` the turn's language."""

    name = "voice"

    def __init__(
        self,
        registry: VoiceRegistry,
        *,
        engine: str,
        espeak: EspeakTts | None = None,
        models_dir: Path = PACKAGED_MODELS_DIR,
    ) -> None:
        self.registry = registry
        self.engine = engine
        self.models_dir = models_dir
        self.espeak = espeak or EspeakTts()
        # Set once a neural voice failed and espeak-ng spoke in its place: a clip of this
        # session's voice must not be stored then (its key names the neural voice).
        self.fell_back = False

    async def synthesize(
        self, text: str, *, voice: str, language: str
    ) -> AsyncGenerator[np.ndarray, None]:
        chosen = self.registry.resolve(voice, language, engine=self.engine)
        if chosen.engine in NEURAL:
            started = False
            try:
                # aclosing here and below: closing this generator (a barge-in) must end the
                # synthesis it drives now, not when the garbage collector finds it.
                async with aclosing(
                    _neural(chosen, self.models_dir).synthesize(
                        text, voice=chosen.name, language=language
                    )
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
