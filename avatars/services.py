"""Changes to avatars and consent. Consent is checked here, so every caller obeys it."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from avatars.models import Avatar, CannedClip, ConsentEvent, ConsentRecord, TurnRecord
from avatars.selectors import avatar_has_valid_consent, faq_entries_for
from avatarsite.celery import app as celery_app
from contracts.messages import BAKE_TASK, PRERENDER_TASK

log = logging.getLogger(__name__)

EXPIRY_ACTOR = "system: expiry"


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
    withdrawn = not avatar_has_valid_consent(avatar)
    clips = CannedClip.objects.filter(avatar=avatar).count() if withdrawn else 0
    if withdrawn:
        avatar_withdraw(avatar=avatar, reason="Consent was revoked.")
    ConsentEvent.objects.create(
        avatar=avatar,
        consent=consent,
        kind=ConsentEvent.Kind.REVOKED,
        actor=revoked_by,
        at=consent.revoked_at,
        reason=reason,
        withdrawn=withdrawn,
        clips_purged=clips,
    )
    return consent


def avatars_holding_without_consent(*, at: datetime | None = None) -> list[int]:
    """Ids of avatars still ready, baked or holding clips although no consent allows them."""
    now = at or timezone.now()
    allowed = ConsentRecord.objects.valid(now).values("avatar_id")
    holding = (
        Q(status__in=[Avatar.Status.READY, Avatar.Status.BAKING])
        | ~Q(baked_path="")
        | Q(canned_clips__isnull=False)
    )
    ids = Avatar.objects.exclude(pk__in=allowed).filter(holding).values_list("pk", flat=True)
    return sorted(set(ids))


def consent_expiry_sweep(*, at: datetime | None = None) -> list[int]:
    """Withdraw every avatar whose consent has run out, as a revocation would; returns their ids.

    Run every few seconds by Celery beat. Live sessions close themselves at expiry; this purges
    clips and baked artifacts and tells sessions on every web process, once per avatar.
    """
    withdrawn = []
    for avatar_id in avatars_holding_without_consent(at=at):
        if _withdraw_expired(avatar_id, at or timezone.now()):
            withdrawn.append(avatar_id)
    return withdrawn


@transaction.atomic
def _withdraw_expired(avatar_id: int, now: datetime) -> bool:
    avatar = Avatar.objects.select_for_update().get(pk=avatar_id)
    if avatar_has_valid_consent(avatar, at=now):  # renewed since the sweep looked
        return False
    ended = (
        ConsentRecord.objects.filter(avatar=avatar, revoked_at__isnull=True, expires_at__lte=now)
        .order_by("-expires_at")
        .first()
    )
    if ended is not None and ended.expires_at is not None:
        kind = ConsentEvent.Kind.EXPIRED
        reason = f"Consent expired at {ended.expires_at:%Y-%m-%d %H:%M:%S} UTC."
    else:  # revoked earlier without a withdrawal, or never granted: still withdraw
        kind = ConsentEvent.Kind.REVOKED
        reason = "No valid consent record allows this avatar."
    clips = CannedClip.objects.filter(avatar=avatar).count()
    avatar_withdraw(avatar=avatar, reason=reason)
    ConsentEvent.objects.create(
        avatar=avatar,
        consent=ended,
        kind=kind,
        actor=EXPIRY_ACTOR,
        at=now,
        reason=reason,
        withdrawn=True,
        clips_purged=clips,
    )
    log.info("avatar %s withdrawn: %s", avatar_id, reason)
    return True


def turn_records_purge(*, older_than_days: int, at: datetime | None = None) -> int:
    """Delete turn records that started more than `older_than_days` ago; returns how many.

    Deletes in batches so a large backlog never holds one long lock on the table.
    """
    if older_than_days <= 0:
        return 0
    cutoff = (at or timezone.now()) - timedelta(days=older_than_days)
    deleted = 0
    while True:
        batch = list(
            TurnRecord.objects.filter(started_at__lt=cutoff).values_list("pk", flat=True)[:2000]
        )
        if not batch:
            return deleted
        deleted += TurnRecord.objects.filter(pk__in=batch).delete()[0]


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


def canned_clips_clear() -> int:
    """Forget every canned answer (the benchmark measures live answers after it); files stay
    until the retention sweep, rows go now so the next answer is rendered again."""
    deleted, _ = CannedClip.objects.all().delete()
    return deleted


def faq_clips_prerender_request(*, avatar: Avatar) -> int:
    """Queue one pre-render per active FAQ answer of a ready avatar in a language it speaks
    (an answer in another language is never played by it); returns how many."""
    _require_consent(avatar)
    if avatar.status != Avatar.Status.READY:
        raise AvatarNotBakeable(f"{avatar.slug} must be baked before its answers can be rendered.")
    spoken = {code.split("-", 1)[0].lower() for code in avatar.languages}
    entry_ids = [
        pk
        for pk, language in faq_entries_for(avatar, language=None).values_list("pk", "language")
        if language.split("-", 1)[0].lower() in spoken
    ]

    def enqueue() -> None:
        for entry_id in entry_ids:
            celery_app.send_task(
                PRERENDER_TASK, kwargs={"avatar_id": avatar.pk, "faq_entry_id": entry_id}
            )

    transaction.on_commit(enqueue)
    return len(entry_ids)
