"""The admin's preview of an avatar speaking (`avatars.voice_catalogue.AvatarPreviewer`): a
sentence spoken by the avatar's voice as a session speaks it, Piper's phoneme timings with it,
lip-synced by the CPU renderer on a private bake of the picture; an MP4 and a contact sheet,
returned as bytes. The speaking is `conversation.tts.catalogue.speak`, which the voice samples
and `manage.py preview_avatar` use too.

It runs in the web process, in the staff member's request (a few seconds); the renderer is
imported at the first preview, not when the process starts."""

from __future__ import annotations

from pathlib import Path

from avatars.voice_catalogue import PreviewFailed, SpeakingPreview
from conversation.tts.base import TtsError
from conversation.tts.catalogue import speak


class CpuPreviewer:
    """What `AvatarPreviewer` promises, made with the CPU renderer and `bench/preview.py`'s
    sheet and MP4 (so the admin shows what `manage.py preview_avatar` writes)."""

    def render(
        self, *, source: Path, text: str, voice: str, language: str, backend: str
    ) -> SpeakingPreview:
        # Loaded by the first preview, not when a process starts.
        from bench import preview
        from lipsync_worker.contract import BakeError
        from lipsync_worker.renderers.cpu import CpuRenderer

        try:
            speech = speak(text, voice=voice, language=language, backend=backend)
        except TtsError as error:  # e.g. espeak-ng missing: there is nothing to lip-sync
            raise PreviewFailed(f"the voice could not speak: {error}") from None
        if not len(speech.pcm):
            raise PreviewFailed("the voice said nothing: type some words")
        rendered = preview.private_render(CpuRenderer(), source, speech.pcm, speech.phonemes)
        try:
            with rendered as (baked, clip):
                return SpeakingPreview(
                    mp4=preview.mp4_bytes(clip),
                    sheet=preview.png_bytes(preview.contact_sheet(baked, clip)),
                    frames=len(clip.frames),
                    phonemes=len(speech.phonemes),
                    voice=speech.voice,
                    mouth=str(baked.manifest.get("mouth", {}).get("state", "")),
                )
        except BakeError as error:
            raise PreviewFailed(
                f"this picture cannot make an avatar ({error.code}): {error.message}"
            ) from None
