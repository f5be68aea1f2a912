"""The admin's preview of an avatar speaking (`avatars.voice_catalogue.AvatarPreviewer`): a
sentence spoken by the avatar's voice as a session speaks it, Piper's phoneme timings with it,
lip-synced by the CPU renderer on a private bake of the picture; an MP4 and a contact sheet,
returned as bytes. `manage.py preview_avatar` speaks through `speak` too.

It runs in the web process, in the staff member's request (a few seconds); the renderer is
imported at the first preview, not when the process starts."""

from __future__ import annotations

import asyncio
import tempfile
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from avatars.voice_catalogue import PreviewFailed, SpeakingPreview
from contracts.phonemes import PhonemeSpan
from conversation.tts.base import TtsError, phonemes_of
from conversation.tts.espeak import EspeakTts
from conversation.tts.select import AvatarVoice, engine_for, usable_voice
from conversation.tts.voices import installed_voices


@dataclass(frozen=True)
class Speech:
    pcm: np.ndarray  # int16 mono at 16 kHz, the TTS's and the renderer's rate
    phonemes: tuple[PhonemeSpan, ...]  # samples from the first of `pcm`; none from espeak-ng
    voice: str  # the id of the voice that spoke: espeak-ng's when the chosen one failed


def speak(text: str, *, voice: str, language: str, backend: str) -> Speech:
    """`text` in `voice`, as a session with that avatar speaks it (the neural voice loaded
    here, espeak-ng in its place when it fails); blocking. Raises TtsError."""
    registry = installed_voices(settings.TTS_VOICES_DIR)
    engine = engine_for(backend)
    chosen = usable_voice(registry, voice, language, engine=engine, models_dir=settings.MODELS_DIR)
    tts = AvatarVoice(
        registry,
        engine=engine,
        espeak=EspeakTts(program=settings.ESPEAK_PROGRAM),
        models_dir=settings.MODELS_DIR,
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


class CpuPreviewer:
    """What `AvatarPreviewer` promises, made with the CPU renderer and `bench/preview.py`'s
    sheet and MP4 (so the admin shows what `manage.py preview_avatar` writes)."""

    def render(
        self, *, source: Path, text: str, voice: str, language: str, backend: str
    ) -> SpeakingPreview:
        # Loaded by the first preview, not when a process starts.
        from bench import preview
        from lipsync_worker.contract import BakeError, BakeSource
        from lipsync_worker.renderers.cpu import CpuRenderer

        try:
            speech = speak(text, voice=voice, language=language, backend=backend)
        except TtsError as error:  # e.g. espeak-ng missing: there is nothing to lip-sync
            raise PreviewFailed(f"the voice could not speak: {error}") from None
        if not len(speech.pcm):
            raise PreviewFailed("the voice said nothing: type some words")
        audio, phonemes = preview.still_start(speech.pcm, speech.phonemes)
        renderer = CpuRenderer()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                baked = renderer.bake(BakeSource(path=source, out_dir=Path(tmp) / "baked"))
            except BakeError as error:
                raise PreviewFailed(
                    f"this picture cannot make an avatar ({error.code}): {error.message}"
                ) from None
            clip = preview.render_clip(renderer, baked, audio, phonemes)
            sheet = preview.contact_sheet(baked, clip)
            return SpeakingPreview(
                mp4=preview.mp4_bytes(clip),
                sheet=preview.png_bytes(sheet),
                frames=len(clip.frames),
                phonemes=len(phonemes),
                voice=speech.voice,
                mouth=str(baked.manifest.get("mouth", {}).get("state", "")),
            )
