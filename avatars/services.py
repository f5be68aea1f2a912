"""Changes to avatars and consent. Consent is checked here, so every caller obeys it."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from avatars.models import Avatar, CannedClip, ConsentRecord
from avatars.selectors import avatar_has_valid_consent, faq_entries_for
from avatarsite.celery import app as celery_app

log = logging.getLogger(__name__)

BAKE_TASK = "lipsync_worker.tasks.bake_avatar"
PRERENDER_TASK = "conversation.tasks.prerender_faq_clip"


class ConsentMissing(Exception):
    """The avatar has no valid consent record, so it may not be baked, made ready or shown."""


class AvatarNotBakeable(Exception):
    """The avatar lacks what a bake needs (a source), or is baking already."""


def avatar_group(avatar_id: int) -> str:
    """Channel-layer group every live session of the avatar joins."""
    return f"avatar-{avatar_id}"


def _require_consent(avatar: Avatar) -> None:
    if not avatar_has_valid_consent(avatar):
        raise ConsentMissing(f"{avatar.slug} has no valid consent record.")


def consent_grant(
    *,
    avatar: Avatar,
    depicted_person: str,
    consented_by: str,
    scope: str,
    purpose: str,
    granted_at: datetime | None = None,
    expires_at: datetime | None = None,
    evidence_note: str = "",
) -> ConsentRecord:
    consent = ConsentRecord(
        avatar=avatar,
        depicted_person=depicted_person,
        consented_by=consented_by,
        scope=scope,
        purpose=purpose,
        granted_at=granted_at or timezone.now(),
        expires_at=expires_at,
        evidence_note=evidence_note,
    )
    consent.full_clean()
    consent.save()
    return consent


@transaction.atomic
def consent_revoke(
    *, consent: ConsentRecord, revoked_by: str, reason: str, at: datetime | None = None
) -> ConsentRecord:
    """Revoke consent; when no other record allows the avatar, withdraw it everywhere."""
    if consent.revoked_at is not None:
        return consent
    consent.revoked_at = at or timezone.now()
    consent.revoked_by = revoked_by
    consent.revoked_reason = reason
    consent.full_clean()
    consent.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
    log.info("consent revoked", extra={"consent_id": consent.pk, "avatar_id": consent.avatar_id})
    avatar = Avatar.objects.select_for_update().get(pk=consent.avatar_id)
    if not avatar_has_valid_consent(avatar):
        avatar_withdraw(avatar=avatar, reason="Consent was revoked.")
    return consent


def avatar_withdraw(*, avatar: Avatar, reason: str) -> None:
    """Take an avatar out of use: end its sessions, purge its clips and baked artifacts."""
    clips = list(CannedClip.objects.filter(avatar=avatar))
    baked_dir = avatar.baked_path
    avatar.status = Avatar.Status.DRAFT
    avatar.status_reason = reason
    avatar.baked_path = avatar.baked_checksum = avatar.idle_clip = ""
    avatar.baked_at = None
    avatar.geometry = {}
    avatar.save()
    CannedClip.objects.filter(pk__in=[c.pk for c in clips]).delete()

    def purge_files() -> None:
        for clip in clips:
            (Path(settings.PRIVATE_MEDIA_ROOT) / clip.media_path).unlink(missing_ok=True)
        for folder in (_baked_dir(baked_dir), _public_dir(avatar)):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        _notify_sessions(avatar.pk, "avatar.withdrawn", reason)

    transaction.on_commit(purge_files)


def _baked_dir(relative: str) -> Path | None:
    return Path(settings.PRIVATE_MEDIA_ROOT) / relative if relative else None


def _public_dir(avatar: Avatar) -> Path:
    return Path(settings.MEDIA_ROOT) / "avatars" / str(avatar.pk)


def _notify_sessions(avatar_id: int, event: str, reason: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(avatar_group(avatar_id), {"type": event, "reason": reason})
    except Exception:  # sessions also re-check consent themselves; never fail the revocation
        log.exception("could not notify sessions of avatar %s", avatar_id)


def avatar_bake_request(*, avatar: Avatar) -> None:
    """Queue a bake of the avatar's source on the lip-sync queue."""
    _require_consent(avatar)
    if not avatar.source_media:
        raise AvatarNotBakeable(f"{avatar.slug} has no source photo or video to bake.")
    if avatar.status == Avatar.Status.BAKING:
        raise AvatarNotBakeable(f"{avatar.slug} is already baking.")
    avatar.status = Avatar.Status.BAKING
    avatar.status_reason = ""
    avatar.save(update_fields=["status", "status_reason", "updated_at"])
    transaction.on_commit(lambda: celery_app.send_task(BAKE_TASK, kwargs={"avatar_id": avatar.pk}))


@transaction.atomic
def avatar_bake_finished(
    *,
    avatar_id: int,
    renderer: str,
    renderer_reason: str,
    baked_path: str,
    checksum: str,
    geometry: dict[str, Any],
    idle_clip: str,
) -> Avatar:
    """Record a finished bake; the avatar becomes ready only if consent still holds."""
    avatar = Avatar.objects.select_for_update().get(pk=avatar_id)
    avatar.renderer_in_use = renderer
    avatar.renderer_reason = renderer_reason[:200]
    avatar.baked_path = baked_path
    avatar.baked_checksum = checksum
    avatar.baked_at = timezone.now()
    avatar.geometry = geometry
    avatar.idle_clip = idle_clip
    if avatar_has_valid_consent(avatar):
        avatar.status = Avatar.Status.READY
        avatar.status_reason = ""
        avatar.save()
    else:
        avatar.save()
        avatar_withdraw(avatar=avatar, reason="Consent ended while the avatar was baking.")
    return avatar


def avatar_bake_failed(*, avatar_id: int, reason: str) -> None:
    Avatar.objects.filter(pk=avatar_id).update(
        status=Avatar.Status.FAILED, status_reason=reason[:300], updated_at=timezone.now()
    )


def faq_clips_prerender_request(*, avatar: Avatar) -> int:
    """Queue one pre-render per active FAQ answer of a ready avatar; returns how many."""
    _require_consent(avatar)
    if avatar.status != Avatar.Status.READY:
        raise AvatarNotBakeable(f"{avatar.slug} must be baked before its answers can be rendered.")
    entry_ids = list(faq_entries_for(avatar, language=None).values_list("pk", flat=True))

    def enqueue() -> None:
        for entry_id in entry_ids:
            celery_app.send_task(
                PRERENDER_TASK, kwargs={"avatar_id": avatar.pk, "faq_entry_id": entry_id}
            )

    transaction.on_commit(enqueue)
    return len(entry_ids)
