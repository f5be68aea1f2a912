"""The admin's view of the voices (avatars.voice_catalogue): which are installed for a
language, and a sample sentence spoken by one, the way a session would speak it."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

import numpy as np
from django.conf import settings

from avatars.voice_catalogue import SampleFailed, VoiceChoice, VoiceSample
from conversation.tts.base import OUTPUT_RATE, TtsError
from conversation.tts.espeak import EspeakTts
from conversation.tts.select import AvatarVoice, engine_for, usable_voice
from conversation.tts.voices import (
    ESPEAK,
    NEURAL,
    PIPER,
    VoiceInfo,
    base_language,
    installed_voices,
)
from conversation.tts.wav import wav_bytes

# What a preview says: a line an avatar could open with. Other languages hear the English one.
SAMPLES = {
    "en": "Hello, and thank you for calling. How can I help you today?",
    "ja": "お問い合わせありがとうございます。ご用件をお聞かせください。",
}


def _label(voice: VoiceInfo) -> str:
    return f"{voice.engine}: {voice.name} ({voice.language}, {voice.sample_rate // 1000} kHz)"


class InstalledVoices:
    """The voices installed in this process, read afresh on each call (a voice dropped into
    the voices folder shows up in the next page). The folders are the settings'
    (`TTS_VOICES_DIR`, `MODELS_DIR`) unless given."""

    def __init__(self, voices_dir: Path | None = None, models_dir: Path | None = None) -> None:
        self._voices_dir = voices_dir
        self._models_dir = models_dir

    @property
    def voices_dir(self) -> Path | None:
        return self._voices_dir or settings.TTS_VOICES_DIR

    @property
    def models_dir(self) -> Path:
        return self._models_dir or settings.MODELS_DIR

    def choices(self, language: str, *, backend: str) -> list[VoiceChoice]:
        registry = installed_voices(self.voices_dir)
        engine = engine_for(backend)
        default = registry.resolve("", language, engine=engine)
        speaking = [v for v in registry.voices if v.speaks(language)]
        if engine != PIPER:
            speaking = [v for v in speaking if v.engine == ESPEAK]
        if not any(v.engine == ESPEAK for v in speaking):
            speaking.append(default if default.engine == ESPEAK else registry.espeak_for(language))
        neural = [v for v in speaking if v.engine in NEURAL]
        rest = [v for v in speaking if v.engine not in NEURAL]
        return [
            VoiceChoice("", f"Default: {_label(default)}"),
            *(VoiceChoice(v.id, _label(v)) for v in [*neural, *rest]),
        ]

    def sample(self, *, voice: str, language: str, backend: str) -> VoiceSample:
        registry = installed_voices(self.voices_dir)
        engine = engine_for(backend)
        # Loaded here, and espeak-ng in its place (with the warning) when it fails to load.
        chosen = usable_voice(registry, voice, language, engine=engine, models_dir=self.models_dir)
        tts = AvatarVoice(
            registry,
            engine=engine,
            espeak=EspeakTts(program=settings.ESPEAK_PROGRAM),
            models_dir=self.models_dir,
        )
        text = SAMPLES.get(base_language(language), SAMPLES["en"])

        async def speak() -> np.ndarray:
            blocks = tts.synthesize(text, voice=chosen.id, language=language)
            async with aclosing(blocks):
                pcm = [block async for block in blocks]
            return np.concatenate(pcm) if pcm else np.zeros(0, np.int16)

        try:
            pcm = asyncio.run(speak())
        except TtsError as error:  # e.g. espeak-ng not installed: there is nothing to play
            raise SampleFailed(str(error)) from None
        spoke = registry.espeak_for(language) if tts.fell_back else chosen
        return VoiceSample(wav=_wav(pcm), voice=spoke.id)


def _wav(pcm: np.ndarray) -> bytes:
    return wav_bytes(pcm, OUTPUT_RATE)
