"""`python manage.py preview_avatar demo --text "..." --out out.mp4 --sheet sheet.png`.

Bakes an avatar (or any picture or video with `--source`, spoken by the default English
voice) privately with the CPU renderer, renders a sentence (with the voice's phoneme timings
when it reports them: Piper) or a WAV on it, and writes an MP4 with sound and a contact sheet
of the mouth region: what an operator looks at before putting an avatar live. Nothing is saved to
the avatar; a picture that cannot make an avatar is refused with the bake's own reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import preview
from contracts.phonemes import PhonemeSpan
from conversation.tts.base import TtsError
from conversation.tts.catalogue import speak
from lipsync_worker.contract import BakeError
from lipsync_worker.renderers.cpu import CpuRenderer

DEFAULT_TEXT = "Our store is open from nine to six, Monday to Saturday. How can I help you?"


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
        phonemes: tuple[PhonemeSpan, ...] = ()  # a WAV has none: the mouth follows its sound
        if options["wav"]:
            audio = preview.read_wav(Path(options["wav"]))
        else:
            text = options["text"] or DEFAULT_TEXT
            try:
                speech = speak(text, voice=voice, language=language, backend=backend)
            except TtsError as error:
                raise CommandError(f"the voice could not speak: {error}") from error
            audio, phonemes = speech.pcm, speech.phonemes
            self.stdout.write(f"spoken by {speech.voice}, {len(phonemes)} phoneme timings")
        try:
            with preview.private_render(CpuRenderer(), source, audio, phonemes) as (baked, clip):
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
        except BakeError as error:
            raise CommandError(
                f"this avatar cannot be baked ({error.code}): {error.message}"
            ) from error
        mouth = baked.manifest.get("mouth", {})
        self.stdout.write(
            f"{len(clip.frames)} frames; the source's mouth is {mouth.get('state', '?')}"
        )

    def _source(self, options: dict[str, Any]) -> tuple[Path, str, str, str]:
        if options["source"]:
            path = Path(options["source"])
            if not path.is_file():
                raise CommandError(f"no file {path}")
            return path, "piper", "", "en"  # the default English voice
        if not options["avatar"]:
            raise CommandError("name an avatar slug or give --source")
        from avatars.selectors import avatar_get_by_slug, avatar_has_valid_consent

        avatar = avatar_get_by_slug(options["avatar"])
        if avatar is None:
            raise CommandError(f"there is no avatar {options['avatar']!r}")
        if not avatar_has_valid_consent(avatar):
            raise CommandError("this avatar has no valid consent record: it may not be rendered")
        return Path(avatar.source_media.path), avatar.tts_backend, avatar.voice, avatar.language
