"""Canned clips on disk and in the CannedClip table: look up by key, write through once."""

from __future__ import annotations

import logging
from pathlib import Path

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from avatars.models import CannedClip
from conversation.avatar import AvatarRuntime
from conversation.canned import clips

log = logging.getLogger(__name__)


class DjangoClipStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or settings.PRIVATE_MEDIA_ROOT)

    async def lookup(self, cache_key: str) -> clips.StoredClip | None:
        return await database_sync_to_async(self._lookup)(cache_key)

    def _lookup(self, cache_key: str) -> clips.StoredClip | None:
        row = CannedClip.objects.filter(cache_key=cache_key).only("pk", "media_path").first()
        if row is None:
            return None
        try:
            stored = clips.read(self.root / row.media_path)
        except (OSError, ValueError):
            log.warning("canned clip %s unreadable; it will be rendered again", row.pk)
            row.delete()
            return None
        CannedClip.objects.filter(pk=row.pk).update(hits=F("hits") + 1, last_hit_at=timezone.now())
        return stored

    async def save(
        self,
        *,
        cache_key: str,
        avatar: AvatarRuntime,
        faq_entry_id: int | None,
        clip: clips.StoredClip,
    ) -> None:
        await database_sync_to_async(self._save)(cache_key, avatar, faq_entry_id, clip)

    def _save(
        self,
        cache_key: str,
        avatar: AvatarRuntime,
        faq_entry_id: int | None,
        clip: clips.StoredClip,
    ) -> None:
        if CannedClip.objects.filter(cache_key=cache_key).exists():
            return
        path = clips.clip_path(self.root, cache_key)
        size = clips.write(path, clip)  # same key, same file name: racing writers agree
        try:
            with transaction.atomic():
                CannedClip.objects.create(
                    cache_key=cache_key,
                    avatar_id=avatar.id,
                    voice=avatar.voice,
                    renderer=avatar.renderer,
                    faq_entry_id=faq_entry_id,
                    media_path=str(path.relative_to(self.root)),
                    media_bytes=size,
                    duration_ms=clip.duration_ms,
                    frame_count=clip.frame_count,
                    chunk_count=len(clip.chunks),
                )
        except IntegrityError:
            pass  # another session stored the same answer first; one row, one file
