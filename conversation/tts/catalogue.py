"""The admin's view of the voices (avatars.voice_catalogue): which are installed for a
language, and a sample sentence spoken by one, the way a session would speak it."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from avatars.voice_catalogue import SampleFailed, VoiceChoice, VoiceSample
from contracts.phonemes import PhonemeSpan
from conversation.tts.base import OUTPUT_RATE, TtsError, phonemes_of
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
        text = SAMPLES.get(base_language(language), SAMPLES["en"])
        try:
            speech = speak(
                text,
                voice=voice,
                language=language,
                backend=backend,
                voices_dir=self.voices_dir,
                models_dir=self.models_dir,
            )
        except TtsError as error:  # e.g. espeak-ng not installed: there is nothing to play
            raise SampleFailed(str(error)) from None
        return VoiceSample(wav=_wav(speech.pcm), voice=speech.voice)


def _wav(pcm: np.ndarray) -> bytes:
    return wav_bytes(pcm, OUTPUT_RATE)


@dataclass(frozen=True)
class Speech:
    pcm: np.ndarray  # int16 mono at 16 kHz, the TTS's and the renderer's rate
    phonemes: tuple[PhonemeSpan, ...]  # samples from the first of `pcm`; none from espeak-ng
    voice: str  # the id of the voice that spoke: espeak-ng's when the chosen one failed


def speak(
    text: str,
    *,
    voice: str,
    language: str,
    backend: str,
    voices_dir: Path | None = None,
    models_dir: Path | None = None,
) -> Speech:
    """`text` in `voice`, as a session with that avatar speaks it (the neural voice loaded
    here, espeak-ng in its place, with the warning, when it fails); blocking. Raises TtsError.
    The voices and models folders are the settings' unless given."""
    registry = installed_voices(voices_dir or settings.TTS_VOICES_DIR)
    engine = engine_for(backend)
    models = models_dir or settings.MODELS_DIR
    chosen = usable_voice(registry, voice, language, engine=engine, models_dir=models)
    tts = AvatarVoice(
        registry,
        engine=engine,
        espeak=EspeakTts(program=settings.ESPEAK_PROGRAM),
        models_dir=models,
    )

    async def blocks() -> tuple[list[np.ndarray], list[PhonemeSpan]]:
        pcm: list[np.ndarray] = []
        spans: list[PhonemeSpan] = []
        async with aclosing(tts.synthesize(text, voice=chosen.id, language=language)) as out:
            async for block in out:
                spans += phonemes_of(block)  # counted from the first sample of the text
                pcm.append(np.asarray(block, np.int16))
        return pcm, spans

    pcm, spans = asyncio.run(blocks())
    audio = np.concatenate(pcm) if pcm else np.zeros(0, np.int16)
    spoke = registry.espeak_for(language) if tts.fell_back else chosen
    return Speech(audio, () if tts.fell_back else tuple(spans), spoke.id)
