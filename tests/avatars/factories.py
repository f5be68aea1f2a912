"""Small builders for avatar rows used across tests."""

from __future__ import annotations

from datetime import timedelta

from django.core.files.base import ContentFile
from django.utils import timezone

from avatars import services
from avatars.models import Avatar, ConsentRecord


def make_avatar(
    slug: str = "ava", *, consent: bool = True, source: bool = True, **fields: object
) -> Avatar:
    avatar = Avatar.objects.create(slug=slug, name=slug.title(), **fields)
    if source:
        avatar.source_media.save("face.png", ContentFile(b"not decoded in these tests"), save=True)
    if consent:
        grant(avatar)
    return avatar


def grant(avatar: Avatar, **fields: object) -> ConsentRecord:
    values: dict[str, object] = {
        "depicted_person": "Test Person",
        "consented_by": "Test Person",
        "scope": "Tests only.",
        "purpose": "Testing.",
        "granted_at": timezone.now() - timedelta(days=1),
    }
    values.update(fields)
    return services.consent_grant(avatar=avatar, **values)  # type: ignore[arg-type]
