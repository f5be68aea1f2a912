"""The avatar as a session sees it: read once when the session opens, never from the database
again while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field


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

    def own_language(self, heard: str | None) -> str | None:
        """The avatar's code of a language a recogniser names by its bare code ("ja" for the
        avatar's "ja-JP"); None when the avatar does not speak it."""
        bare = _bare(heard or "")
        return next((code for code in self.languages if heard and _bare(code) == bare), None)

    @property
    def idle_frames(self) -> int:
        value = self.geometry.get("idle_frames", 1)
        return int(value) if isinstance(value, int | float | str) else 1
