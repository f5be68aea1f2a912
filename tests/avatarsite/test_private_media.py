"""Uploaded sources and consent evidence: shown to staff who may view them, to nobody else."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from avatars.models import Avatar
from tests.avatars.factories import make_avatar, portrait_bytes

pytestmark = pytest.mark.django_db


def logged_in(username: str, *, staff: bool, superuser: bool = False, perms: tuple = ()) -> Client:
    user = get_user_model().objects.create_user(username, password="pw-123456", is_staff=staff)
    user.is_superuser = superuser
    user.save()
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def avatar() -> Avatar:
    avatar = make_avatar("pictured", source=False)
    avatar.source_media.save("face.jpg", ContentFile(portrait_bytes("JPEG")), save=True)
    return avatar


def test_the_current_source_link_on_the_avatar_page_shows_the_file_to_staff(
    avatar: Avatar,
) -> None:
    boss = logged_in("boss", staff=True, superuser=True)
    page = boss.get(reverse("admin:avatars_avatar_change", args=[avatar.pk])).content.decode()
    link = avatar.source_media.url
    assert link.startswith(settings.PRIVATE_MEDIA_URL + "sources/")
    assert f'href="{link}"' in page  # "Currently: sources/….jpg"
    shown = boss.get(link)
    assert shown.status_code == 200
    assert b"".join(shown.streaming_content) == Path(avatar.source_media.path).read_bytes()
    assert shown["Content-Type"] == "image/jpeg"
    assert "no-store" in shown["Cache-Control"] and "sandbox" in shown["Content-Security-Policy"]

    viewer = logged_in("viewer", staff=True, perms=("view_avatar",))
    assert viewer.get(link).status_code == 200


def test_nobody_else_sees_it(avatar: Avatar) -> None:
    link = avatar.source_media.url
    assert Client().get(link).status_code == 404
    assert logged_in("customer", staff=False).get(link).status_code == 404
    assert logged_in("helpdesk", staff=True).get(link).status_code == 403  # no right to view


def test_only_sources_and_evidence_are_served_and_never_outside_them(avatar: Avatar) -> None:
    boss = logged_in("boss", staff=True, superuser=True)
    private = Path(settings.PRIVATE_MEDIA_ROOT)
    (private / "baked").mkdir(parents=True, exist_ok=True)
    (private / "baked" / "arrays.npz").write_bytes(b"baked")
    (private / "secret.txt").write_bytes(b"secret")
    base = settings.PRIVATE_MEDIA_URL
    for path in ["baked/arrays.npz", "sources/../baked/arrays.npz", "secret.txt", "sources/"]:
        assert boss.get(base + path).status_code == 404, path
    assert boss.get(base + "sources/%2e%2e/secret.txt").status_code == 404


def test_evidence_that_is_not_a_picture_is_downloaded_not_shown(avatar: Avatar) -> None:
    consent = avatar.consents.get()
    consent.evidence.save("release.html", ContentFile(b"<script>alert(1)</script>"), save=True)
    boss = logged_in("boss", staff=True, superuser=True)
    answer = boss.get(consent.evidence.url)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/octet-stream"
    assert answer["Content-Disposition"].startswith("attachment")
    assert (
        logged_in("viewer", staff=True, perms=("view_avatar",))
        .get(consent.evidence.url)
        .status_code
        == 403
    )  # evidence needs the right to view consent records
