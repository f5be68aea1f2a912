"""The canned-clip cache key: one pure function, shared by the admin and the conversation."""

from __future__ import annotations

import hashlib
import json


def normalize_answer(text: str) -> str:
    """Whitespace differences must not make a second copy of the same spoken answer."""
    return " ".join(text.split())


def canned_clip_key(
    *, avatar_id: int, baked_checksum: str, voice: str, renderer: str, text: str
) -> str:
    """sha256 over (avatar, voice, renderer, answer text).

    The avatar part includes its bake checksum, so re-baking an avatar never serves clips
    rendered from the old bake.
    """
    material = json.dumps(
        [f"{avatar_id}:{baked_checksum}", voice, renderer, normalize_answer(text)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
