"""`python manage.py preview_avatar demo --text "..." --out out.mp4 --sheet sheet.png`.

Bakes an avatar (or any picture or video with `--source`) privately with the CPU renderer,
renders a sentence or a WAV on it, and writes an MP4 with sound and a contact sheet of the
mouth region: what an operator looks at before putting an avatar live. Nothing is saved to
the avatar; a picture that cannot make an avatar is refused with the bake's own reason.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import preview
from lipsync_worker.contract import SAMPLE_RATE, BakeError, BakeSource
from lipsync_worker.renderers.cpu import CpuRenderer

DEFAULT_TEXT = "Our store is open from nine to six, Monday to Saturday. How can I help you?"


async def _speak(text: str, backend: str, voice: str, language: str) -> np.ndarray:
    from conversation.tts.base import OUTPUT_RATE
    from conversation.tts.select import build_tts

    tts = build_tts(
        backend, voices_dir=settings.TTS_VOICES_DIR, espeak_program=settings.ESPEAK_PROGRAM
    )
    blocks = [block async for block in tts.synthesize(text, voice=voice, language=language)]
    audio = np.concatenate(blocks) if blocks else np.zeros(0, np.int16)
    if OUTPUT_RATE != SAMPLE_RATE:
        raise CommandError(f"the TTS speaks at {OUTPUT_RATE} Hz, the renderer needs {SAMPLE_RATE}")
    return audio.astype(np.int16)


class Command(BaseCommand):
    help = "Render text or a WAV on an avatar: an MP4 with sound and a contact sheet of the mouth."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("avatar", nargs="?", help="Avatar slug (its source and voice).")
        parser.add_argument("--source", help="A picture or video file instead of an avatar.")
        speech = parser.add_mutually_exclusive_group()
        speech.add_argument("--text", help=f"What to say (default: {DEFAULT_TEXT!r}).")
        speech.add_argument("--wav", help="A WAV file to lip-sync instead of text.")
        parser.add_argument("--out", help="MP4 to write (H.264 + AAC).")
        parser.add_argument("--sheet", help="Contact sheet PNG of the mouth region to write.")
        parser.add_argument("--shapes", help="PNG of the key mouth shapes (closed, open, ...).")
        parser.add_argument("--frames", type=int, default=15, help="Speech frames on the sheet.")
        parser.add_argument("--title", default="", help="A line of text above the sheet.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["out"] or options["sheet"] or options["shapes"]):
            raise CommandError("nothing to write: give --out, --sheet or --shapes")
        source, backend, voice, language = self._source(options)
        if options["wav"]:
            audio = preview.read_wav(Path(options["wav"]))
        else:
            text = options["text"] or DEFAULT_TEXT
            audio = asyncio.run(_speak(text, backend, voice, language))
        audio = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.int16), audio])  # a still start
        renderer = CpuRenderer()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                baked = renderer.bake(BakeSource(path=source, out_dir=Path(tmp) / "baked"))
            except BakeError as error:
                raise CommandError(
                    f"this avatar cannot be baked ({error.code}): {error.message}"
                ) from error
            clip = preview.render_clip(renderer, baked, audio)
            if options["out"]:
                preview.write_mp4(clip, Path(options["out"]))
            if options["sheet"]:
                sheet = preview.contact_sheet(
                    baked, clip, count=options["frames"], title=options["title"]
                )
                preview.write_png(sheet, Path(options["sheet"]))
            if options["shapes"]:
                shapes = preview.shapes_sheet(baked, title=options["title"])
                preview.write_png(shapes, Path(options["shapes"]))
        mouth = baked.manifest.get("mouth", {})
        self.stdout.write(
            f"{len(clip.frames)} frames; the source's mouth is {mouth.get('state', '?')}"
        )

    def _source(self, options: dict[str, Any]) -> tuple[Path, str, str, str]:
        if options["source"]:
            path = Path(options["source"])
            if not path.is_file():
                raise CommandError(f"no file {path}")
            return path, "espeak", "en-us", "en"
        if not options["avatar"]:
            raise CommandError("name an avatar slug or give --source")
        from avatars.selectors import avatar_get_by_slug, avatar_has_valid_consent

        avatar = avatar_get_by_slug(options["avatar"])
        if avatar is None:
            raise CommandError(f"there is no avatar {options['avatar']!r}")
        if not avatar_has_valid_consent(avatar):
            raise CommandError("this avatar has no valid consent record: it may not be rendered")
        return Path(avatar.source_media.path), avatar.tts_backend, avatar.voice, avatar.language
