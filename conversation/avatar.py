"""The avatar as a session sees it: read once when the session opens, never from the database
again while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field


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

    @property
    def idle_frames(self) -> int:
        value = self.geometry.get("idle_frames", 1)
        return int(value) if isinstance(value, int | float | str) else 1
