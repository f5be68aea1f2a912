"""The admin shows hand-offs with every webhook attempt, and refuses unsafe webhook URLs."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import timezone

from handoff.models import HandOff, HandOffPolicy, WebhookAttempt
from tests.avatars.factories import make_avatar
from tests.handoff.conftest import open_handoff

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_hand_off_shows_its_attempts_and_cannot_be_added(staff) -> None:
    hand_off = open_handoff()
    for number, code in ((1, 500), (2, 200)):
        WebhookAttempt.objects.create(
            hand_off=hand_off,
            number=number,
            at=timezone.now(),
            host="hooks.example.com",
            status_code=code,
            duration_ms=12.5,
            delivered=code == 200,
        )

    listing = staff.get("/admin/handoff/handoff/")
    page = staff.get(f"/admin/handoff/handoff/{hand_off.pk}/change/")

    assert listing.status_code == 200 and b"The customer asked for a person" in listing.content
    assert page.status_code == 200
    assert page.content.count(b"hooks.example.com") == 2
    assert staff.get("/admin/handoff/handoff/add/").status_code == 403


def policy_form(avatar, url: str) -> dict[str, object]:
    return {
        "avatar": avatar.pk,
        "always_keywords": "",
        "webhook_url": url,
        "webhook_secret": "s3cret",
        "webhook_timeout_s": "5",
    }


@pytest.mark.parametrize(
    ("url", "debug", "accepted"),
    [
        ("https://hooks.example.com/in", False, True),
        ("http://hooks.example.com/in", True, False),
        ("http://127.0.0.1:9000/in", True, True),
        ("http://localhost:9000/in", False, False),
        ("https://user:pw@hooks.example.com/in", False, False),
    ],
)
def test_webhook_urls_must_be_https_or_loopback_in_development(
    staff, url: str, debug: bool, accepted: bool
) -> None:
    avatar = make_avatar()
    with override_settings(DEBUG=debug):
        response = staff.post("/admin/handoff/handoffpolicy/add/", policy_form(avatar, url))
    assert HandOffPolicy.objects.filter(avatar=avatar).exists() is accepted, response.content[:0]


def test_the_webhook_timeout_is_bounded(staff) -> None:
    avatar = make_avatar()
    form = {**policy_form(avatar, "https://hooks.example.com/in"), "webhook_timeout_s": "120"}
    staff.post("/admin/handoff/handoffpolicy/add/", form)
    assert not HandOffPolicy.objects.exists()
    assert HandOff.objects.count() == 0
