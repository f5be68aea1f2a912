"""Consent gating and revocation, through the services every caller uses."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import msgpack
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from avatars import services
from avatars.models import Avatar, CannedClip
from avatars.selectors import (
    AvatarUnavailable,
    Unavailable,
    avatar_get_usable,
    avatar_has_valid_consent,
    avatar_list_public,
)
from contracts.messages import BAKE_TASK
from tests.avatars.factories import grant, make_avatar

pytestmark = pytest.mark.django_db(transaction=True)


def queued_tasks(redis_client, queue: str) -> list[dict]:
    """Task messages waiting in a Celery queue on the real broker (kombu's Redis list)."""
    messages = []
    for raw in redis_client.lrange(queue, 0, -1):
        envelope = json.loads(raw)
        messages.append({"task": envelope["headers"]["task"], "body": envelope["body"]})
    return messages


def test_bake_without_consent_is_refused(redis_client) -> None:
    avatar = make_avatar(consent=False)
    with pytest.raises(services.ConsentMissing):
        services.avatar_bake_request(avatar=avatar)
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.DRAFT
    assert queued_tasks(redis_client, "lipsync") == []


@pytest.mark.parametrize(
    "consent",
    [
        {"expires_at": timezone.now() - timedelta(minutes=1)},
        {"granted_at": timezone.now() + timedelta(days=1)},
    ],
    ids=["expired", "not-yet-granted"],
)
def test_consent_outside_its_period_does_not_count(consent: dict) -> None:
    avatar = make_avatar(consent=False)
    grant(avatar, **consent)
    assert not avatar_has_valid_consent(avatar)
    with pytest.raises(services.ConsentMissing):
        services.avatar_bake_request(avatar=avatar)


def test_bake_request_queues_a_task_on_the_lipsync_queue_after_commit(redis_client) -> None:
    redis_client.delete("lipsync")
    avatar = make_avatar()
    services.avatar_bake_request(avatar=avatar)
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.BAKING
    tasks = queued_tasks(redis_client, "lipsync")
    assert [t["task"] for t in tasks] == [BAKE_TASK]
    # msgpack body, never pickle: args, kwargs, embed
    args, kwargs, _ = msgpack.unpackb(base64.b64decode(tasks[0]["body"]))
    assert kwargs == {"avatar_id": avatar.pk}
    with pytest.raises(services.AvatarNotBakeable):
        services.avatar_bake_request(avatar=avatar)  # already baking
    redis_client.delete("lipsync")


def test_bake_needs_a_source() -> None:
    avatar = make_avatar(source=False)
    with pytest.raises(services.AvatarNotBakeable):
        services.avatar_bake_request(avatar=avatar)


def finish_bake(avatar: Avatar) -> Avatar:
    baked = Path(settings.PRIVATE_MEDIA_ROOT) / "baked" / str(avatar.pk)
    baked.mkdir(parents=True, exist_ok=True)
    (baked / "manifest.json").write_text("{}")
    return services.avatar_bake_finished(
        avatar_id=avatar.pk,
        renderer="cpu",
        renderer_reason="CPU renderer requested",
        baked_path=f"baked/{avatar.pk}",
        checksum="c" * 64,
        geometry={"width": 512, "height": 512},
        idle_clip=f"avatars/{avatar.pk}/idle.webm",
    )


def test_finished_bake_makes_the_avatar_ready_and_usable() -> None:
    avatar = finish_bake(make_avatar())
    assert avatar.status == Avatar.Status.READY
    assert avatar_get_usable(slug=avatar.slug) == avatar
    assert list(avatar_list_public()) == [avatar]


def test_usable_reports_why_not() -> None:
    with pytest.raises(AvatarUnavailable) as unknown:
        avatar_get_usable(slug="nobody")
    assert unknown.value.reason == Unavailable.UNKNOWN
    make_avatar("fresh")
    with pytest.raises(AvatarUnavailable) as not_ready:
        avatar_get_usable(slug="fresh")
    assert not_ready.value.reason == Unavailable.NOT_READY


def test_revoking_consent_withdraws_the_avatar_everywhere() -> None:
    avatar = finish_bake(make_avatar())
    consent = avatar.consents.get()
    clip_file = Path(settings.PRIVATE_MEDIA_ROOT) / "clips" / "one.bin"
    clip_file.parent.mkdir(parents=True, exist_ok=True)
    clip_file.write_bytes(b"chunks")
    CannedClip.objects.create(
        cache_key="k" * 64, avatar=avatar, voice="en-us", renderer="cpu", media_path="clips/one.bin"
    )
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(services.avatar_group(avatar.pk), channel)

    services.consent_revoke(consent=consent, revoked_by="dpo@example.com", reason="Asked to stop")

    consent.refresh_from_db()
    avatar.refresh_from_db()
    assert (consent.revoked_by, consent.revoked_reason) == ("dpo@example.com", "Asked to stop")
    assert consent.revoked_at is not None
    assert avatar.status == Avatar.Status.DRAFT and avatar.baked_path == ""
    assert not CannedClip.objects.filter(avatar=avatar).exists()
    assert not clip_file.exists()
    assert not (Path(settings.PRIVATE_MEDIA_ROOT) / "baked" / str(avatar.pk)).exists()
    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "avatar.withdrawn"
    with pytest.raises(AvatarUnavailable) as refused:
        avatar_get_usable(slug=avatar.slug)
    assert refused.value.reason == Unavailable.NO_CONSENT
    assert list(avatar_list_public()) == []


def test_revoking_one_of_two_records_keeps_the_avatar() -> None:
    avatar = finish_bake(make_avatar())
    second = grant(avatar, depicted_person="Test Person", consented_by="Agency")
    services.consent_revoke(consent=second, revoked_by="ops", reason="Duplicate")
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.READY


def test_bake_that_finishes_after_consent_ended_does_not_go_live() -> None:
    avatar = make_avatar()
    services.avatar_bake_request(avatar=avatar)
    services.consent_revoke(consent=avatar.consents.get(), revoked_by="ops", reason="Stop")
    avatar = finish_bake(avatar)
    assert avatar.status == Avatar.Status.DRAFT
    assert avatar.baked_path == ""


def test_prerender_needs_a_ready_avatar_with_consent(redis_client) -> None:
    avatar = make_avatar()
    with pytest.raises(services.AvatarNotBakeable):
        services.faq_clips_prerender_request(avatar=avatar)


def test_prerender_covers_the_languages_the_avatar_speaks_and_no_other(redis_client) -> None:
    from avatars.models import FAQEntry

    avatar = finish_bake(make_avatar())
    avatar.other_languages = ["ja"]
    avatar.save()
    for language in ("en", "en-GB", "ja", "de"):
        FAQEntry.objects.create(question=f"q {language}", answer="a", language=language)

    assert services.faq_clips_prerender_request(avatar=avatar) == 3

    queued = {task["body"] for task in queued_tasks(redis_client, "speech")}
    assert len(queued) == 3
    avatar.other_languages = []
    avatar.save()
    assert services.faq_clips_prerender_request(avatar=avatar) == 2
