"""The voices the admin offers an avatar per language, a spoken sample of each, and a preview of
the avatar speaking a sentence: ports that the conversation app fills when it starts (avatars
never imports conversation, a renderer or bench)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class VoiceChoice:
    id: str  # engine:name, what Avatar.voice and Avatar.voices store
    label: str


@dataclass(frozen=True)
class VoiceSample:
    wav: bytes  # 16-bit mono WAV
    voice: str  # the id of the voice that spoke it: espeak-ng's when the chosen one failed


class SampleFailed(Exception):
    """No voice, not even espeak-ng, could speak the sample; the message says why."""


class VoiceCatalogue(Protocol):
    def choices(self, language: str, *, backend: str) -> list[VoiceChoice]:
        """The voices installed for `language` on an avatar's `backend`, default first."""
        ...

    def sample(self, *, voice: str, language: str, backend: str) -> VoiceSample:
        """A short sentence in `language` spoken as a session with this voice speaks it;
        blocking (a voice model may load). Raises SampleFailed."""
        ...


_installed: list[VoiceCatalogue] = []


def install(catalogue: VoiceCatalogue) -> None:
    _installed[:] = [catalogue]


def catalogue() -> VoiceCatalogue | None:
    """The installed catalogue; None in a process whose conversation app is not loaded."""
    return _installed[0] if _installed else None


@dataclass(frozen=True)
class SpeakingPreview:
    """An avatar speaking a sentence, made privately: nothing of it is saved anywhere."""

    mp4: bytes  # H.264 video and AAC sound
    sheet: bytes  # PNG contact sheet of the mouth region: the photo first, then speech frames
    frames: int
    phonemes: int  # the phoneme timings the voice reported; 0: the mouth followed the audio
    voice: str  # the id of the voice that spoke it
    mouth: str  # what the photo's mouth shows: closed, open or teeth


class PreviewFailed(Exception):
    """No preview could be made (the picture cannot make an avatar, no voice could speak);
    the message says why, for the operator."""


class AvatarPreviewer(Protocol):
    def render(
        self, *, source: Path, text: str, voice: str, language: str, backend: str
    ) -> SpeakingPreview:
        """`text` spoken by `voice` in `language` as a session speaks it, lip-synced on the
        picture or video at `source` by the CPU renderer (baked privately, then thrown away);
        blocking, a few seconds. Raises PreviewFailed."""
        ...


_previewers: list[AvatarPreviewer] = []


def install_previewer(previewer: AvatarPreviewer) -> None:
    _previewers[:] = [previewer]


def previewer() -> AvatarPreviewer | None:
    """The installed previewer; None in a process whose conversation app is not loaded."""
    return _previewers[0] if _previewers else None
