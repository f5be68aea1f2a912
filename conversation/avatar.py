"""The avatar as a session sees it: read once when the session opens, never from the database
again while it runs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

# Scripts that name their language: text in one of them is in that language (a typed question
# has no recogniser to say). Han characters alone are Chinese or Japanese: whichever it speaks.
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _bare(code: str) -> str:
    return code.strip().lower().replace("_", "-").split("-", 1)[0]


@dataclass(frozen=True)
class AvatarRuntime:
    """What a session needs of its avatar, read once when the session opens."""

    id: int
    slug: str
    name: str
    baked_checksum: str
    renderer: str
    tts_backend: str
    voice: str
    language: str
    languages: tuple[str, ...]
    persona: str
    geometry: dict[str, object] = field(default_factory=dict)
    idle_clip: str = ""
    # The voice that speaks each of its languages (voice ids, as `voice`); a language not
    # named here speaks with `voice`, which the TTS replaces by the language's default when
    # that voice does not speak it.
    voices: dict[str, str] = field(default_factory=dict)

    def voice_for(self, language: str) -> str:
        """The voice id that speaks `language`: what the TTS is asked for and what keys a
        canned clip of an answer in that language."""
        if language in self.voices:
            return self.voices[language]
        own = self.own_language(language)  # "ja" for the avatar's "ja-JP"
        return self.voices.get(own, self.voice) if own else self.voice

    def speaking(self, language: str) -> AvatarRuntime:
        """The avatar as it speaks `language`: `voice` is that language's voice."""
        voice = self.voice_for(language)
        return self if voice == self.voice else replace(self, voice=voice)

    def own_language(self, heard: str | None) -> str | None:
        """The avatar's code of a language a recogniser names by its bare code ("ja" for the
        avatar's "ja-JP"); None when the avatar does not speak it."""
        bare = _bare(heard or "")
        return next((code for code in self.languages if heard and _bare(code) == bare), None)

    def written_language(self, text: str) -> str:
        """The language a typed `text` is in, among the avatar's: the one its script names
        (kana: Japanese, hangul: Korean, Han alone: Chinese or else Japanese), else the avatar's
        own."""
        if _KANA.search(text):
            wanted: tuple[str, ...] = ("ja",)
        elif _HANGUL.search(text):
            wanted = ("ko",)
        elif _HAN.search(text):
            wanted = ("zh", "ja")
        else:
            wanted = ()
        found = (self.own_language(code) for code in wanted)
        return next((code for code in found if code is not None), self.language)

    @property
    def idle_frames(self) -> int:
        value = self.geometry.get("idle_frames", 1)
        return int(value) if isinstance(value, int | float | str) else 1
