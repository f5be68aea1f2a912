"""The voices the admin offers an avatar per language, and a spoken sample of each: a port that
the conversation app fills when it starts (avatars never imports conversation)."""

from __future__ import annotations

from dataclasses import dataclass
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
