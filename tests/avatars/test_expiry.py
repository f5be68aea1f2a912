"""Consent that runs out acts like a revocation: the sweep withdraws the avatar and audits it."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from avatars import services
from avatars.models import Avatar, CannedClip, ConsentEvent, ConsentRecord
from avatars.selectors import avatar_list_public
from avatarsite.celery import app
from tests.avatars.factories import grant, make_avatar
from tests.avatars.test_services import finish_bake
from tests.processes import Process, child_env, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def ready_avatar_with_clip(slug: str = "ava") -> tuple[Avatar, Path]:
    avatar = finish_bake(make_avatar(slug))
    clip_file = Path(settings.PRIVATE_MEDIA_ROOT) / "clips" / f"{slug}.bin"
    clip_file.parent.mkdir(parents=True, exist_ok=True)
    clip_file.write_bytes(b"chunks")
    CannedClip.objects.create(
        cache_key=slug.ljust(64, "k"),
        avatar=avatar,
        voice="en-us",
        renderer="cpu",
        media_path=f"clips/{slug}.bin",
    )
    return avatar, clip_file


def let_consent_expire(avatar: Avatar) -> ConsentRecord:
    """Time passes: the avatar's only consent record reaches its end date."""
    consent = avatar.consents.get()
    ConsentRecord.objects.filter(pk=consent.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    consent.refresh_from_db()
    return consent


def test_expired_consent_withdraws_the_avatar_like_a_revocation() -> None:
    avatar, clip_file = ready_avatar_with_clip()
    baked_dir = Path(settings.PRIVATE_MEDIA_ROOT) / avatar.baked_path
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(services.avatar_group(avatar.pk), channel)
    assert services.consent_expiry_sweep() == []  # consent still valid: nothing happens
    assert baked_dir.exists() and clip_file.exists()
    consent = let_consent_expire(avatar)

    assert services.consent_expiry_sweep() == [avatar.pk]

    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.DRAFT and avatar.baked_path == ""
    assert "expired" in avatar.status_reason
    assert not CannedClip.objects.filter(avatar=avatar).exists()
    assert not clip_file.exists() and not baked_dir.exists()
    assert async_to_sync(layer.receive)(channel)["type"] == "avatar.withdrawn"
    assert list(avatar_list_public()) == []
    event = ConsentEvent.objects.get(avatar=avatar)
    assert (event.kind, event.actor, event.consent) == ("expired", "system: expiry", consent)
    assert event.withdrawn and event.clips_purged == 1
    assert "expired" in event.reason and event.at >= consent.expires_at
    # the record itself is not rewritten as "revoked": it expired
    consent.refresh_from_db()
    assert consent.revoked_at is None

    assert services.consent_expiry_sweep() == []  # once per avatar
    assert ConsentEvent.objects.count() == 1


def test_another_valid_record_keeps_the_avatar() -> None:
    avatar, clip_file = ready_avatar_with_clip()
    let_consent_expire(avatar)
    grant(avatar, consented_by="Agency")  # renewed
    assert services.consent_expiry_sweep() == []
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.READY and clip_file.exists()
    assert not ConsentEvent.objects.exists()


def test_an_avatar_with_nothing_to_withdraw_is_left_alone() -> None:
    make_avatar("draft", consent=False)
    expired = make_avatar("old")
    let_consent_expire(expired)  # never baked: no clips, no artifacts, not ready
    assert services.consent_expiry_sweep() == []
    assert not ConsentEvent.objects.exists()


def test_revocation_leaves_the_same_audit_trail() -> None:
    avatar, _ = ready_avatar_with_clip()
    consent = avatar.consents.get()
    services.consent_revoke(consent=consent, revoked_by="dpo@example.com", reason="Asked to stop")
    event = ConsentEvent.objects.get(avatar=avatar)
    assert (event.kind, event.actor, event.reason) == (
        "revoked",
        "dpo@example.com",
        "Asked to stop",
    )
    assert event.at == ConsentRecord.objects.get(pk=consent.pk).revoked_at
    assert event.withdrawn and event.clips_purged == 1


def test_beat_schedules_registered_tasks_on_the_speech_queue() -> None:
    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {e["task"] for e in schedule.values()} == {
        "avatars.tasks.withdraw_expired_consent",
        "avatars.tasks.purge_turn_records",
        "handoff.tasks.send_due_webhooks",
    }
    for entry in schedule.values():
        assert entry["task"] in app.tasks
        assert app.amqp.router.route({}, entry["task"])["queue"].name == "speech"
    assert schedule["withdraw-expired-consent"]["schedule"] == 30.0
    assert schedule["purge-turn-records"]["schedule"] == 24 * 3600.0
    assert schedule["send-due-handoff-webhooks"]["schedule"] == 15.0


@pytest.mark.stack
def test_real_beat_and_speech_worker_withdraw_an_expired_avatar(
    start_worker, tmp_path: Path, output_dir: Path
) -> None:
    avatar, clip_file = ready_avatar_with_clip()
    baked_dir = Path(settings.PRIVATE_MEDIA_ROOT) / avatar.baked_path
    let_consent_expire(avatar)
    worker = start_worker("speech")
    beat = Process(
        "beat",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "avatarsite",
            "beat",
            "--loglevel=INFO",
            "-s",
            str(tmp_path / "celerybeat-schedule"),
        ],
        child_env(),
        output_dir,
    )
    try:
        # beat's first sweep is due one interval (30 s) after it starts
        wait_until(lambda: ConsentEvent.objects.filter(avatar=avatar).exists(), 120, "withdrawn")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{beat.output()[-2000:]}\n{worker.output()[-3000:]}") from exc
    finally:
        beat.stop()
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.DRAFT
    wait_until(lambda: not clip_file.exists(), 10, "clip file purged")
    assert not baked_dir.exists()
    assert ConsentEvent.objects.get(avatar=avatar).actor == "system: expiry"
    assert "avatars.tasks.withdraw_expired_consent" in beat.output()
    assert "avatars.tasks.withdraw_expired_consent" in worker.output()
