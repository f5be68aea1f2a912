"""The admin works for every model, needs a staff login, and its actions call services."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from avatars.models import Avatar, CannedClip, ConsentRecord, FAQEntry, TurnRecord
from tests.avatars.factories import make_avatar

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = [Avatar, ConsentRecord, FAQEntry, CannedClip, TurnRecord]


def url(model: type, view: str, *args: object) -> str:
    return reverse(f"admin:avatars_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_admin_requires_a_staff_login(model: type) -> None:
    response = Client().get(url(model, "changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_with_search_and_filters(staff: Client, model: type) -> None:
    make_avatar("alpha")
    assert staff.get(url(model, "changelist")).status_code == 200
    assert staff.get(url(model, "changelist"), {"q": "alpha"}).status_code == 200


def test_add_and_change_pages(staff: Client) -> None:
    avatar = make_avatar("alpha")
    faq = FAQEntry.objects.create(question="Hours?", answer="Nine to six.")
    for model, obj in [(Avatar, avatar), (ConsentRecord, avatar.consents.get()), (FAQEntry, faq)]:
        assert staff.get(url(model, "add")).status_code == 200
        assert staff.get(url(model, "change", obj.pk)).status_code == 200


def test_faq_entry_created_through_the_admin(staff: Client) -> None:
    response = staff.post(
        url(FAQEntry, "add"),
        {
            "language": "en",
            "question": "Do you sell socks?",
            "paraphrases": "Socks?\nAny socks",
            "answer": "Yes, wool and cotton.",
            "active": "on",
            "priority": "2",
        },
    )
    assert response.status_code == 302
    entry = FAQEntry.objects.get(question="Do you sell socks?")
    assert entry.paraphrase_list == ["Socks?", "Any socks"]


def test_bake_action_refuses_without_consent_and_says_so(staff: Client) -> None:
    avatar = make_avatar("noconsent", consent=False)
    response = staff.post(
        url(Avatar, "changelist"),
        {"action": "bake", "_selected_action": [avatar.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "Not baked" in text and "no valid consent" in text
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.DRAFT


def test_bake_action_queues_and_does_not_claim_success(staff: Client) -> None:
    avatar = make_avatar("withconsent")
    response = staff.post(
        url(Avatar, "changelist"), {"action": "bake", "_selected_action": [avatar.pk]}, follow=True
    )
    text = response.content.decode()
    assert "queued" in text and "baked successfully" not in text
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.BAKING


def test_revoke_action_asks_for_confirmation_first(staff: Client) -> None:
    avatar = make_avatar("revokable")
    consent = avatar.consents.get()
    changelist = url(ConsentRecord, "changelist")
    first = staff.post(changelist, {"action": "revoke", "_selected_action": [consent.pk]})
    assert first.status_code == 200 and "Yes, revoke consent" in first.content.decode()
    consent.refresh_from_db()
    assert consent.revoked_at is None

    staff.post(
        changelist,
        {
            "action": "revoke",
            "_selected_action": [consent.pk],
            "confirm": "1",
            "reason": "The person asked us to stop.",
        },
    )
    consent.refresh_from_db()
    assert consent.revoked_at is not None
    assert consent.revoked_by == "boss"
    assert consent.revoked_reason == "The person asked us to stop."


def test_turn_records_are_read_only(staff: Client) -> None:
    assert staff.get(url(TurnRecord, "add")).status_code == 403
