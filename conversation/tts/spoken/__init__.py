"""Text as a voice should read it: the spoken form of a sentence, per language.

Only the voice gets it; subtitles keep the written form. Every language loses what nothing can
pronounce (control characters, emoji, pictographs); English also gets its numbers, prices,
dates, times, phone numbers, addresses, abbreviations and symbols spelled out as words.
"""

from __future__ import annotations

import re
import unicodedata

from conversation.tts.spoken.english import speak_english

__all__ = ["spoken_form"]

# Emoji, pictographs, their modifiers and joiners; private-use and unassigned code points.
_SILENT_CATEGORIES = frozenset({"So", "Sk", "Cs", "Co", "Cn", "Cf", "Me"})
_SPOKEN_SYMBOLS = frozenset("°")  # a symbol the language's rules read out
_SPACE_BEFORE_MARK = re.compile(r" ([.,!?;:])")  # left where an emoji was
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _pronounceable(text: str) -> str:
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        silent = category in _SILENT_CATEGORIES and char not in _SPOKEN_SYMBOLS
        # A combining mark stays with the letter it belongs to (Devanagari vowel signs, Thai
        # tones), not with an emoji that is gone (variation selectors, skin tones).
        orphan_mark = category == "Mn" and (not kept or kept[-1] == " ")
        kept.append(" " if silent or orphan_mark else char)
    return "".join(kept)


def spoken_form(text: str, language: str) -> str:
    """What the voice should say for `text` in `language`; "" when nothing is speakable."""
    text = _pronounceable(text)
    if language.lower().replace("_", "-").split("-", 1)[0] == "en":
        text = speak_english(text)
    text = _SPACE_BEFORE_MARK.sub(r"\1", " ".join(text.split()))
    return text if any(char.isalnum() for char in text) else ""
