"""The admin works for every model, needs a staff login, and its actions call services."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from avatars.models import Avatar, CannedClip, ConsentRecord, FAQEntry, TurnRecord, WidgetOrigin
from tests.avatars.factories import make_avatar

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = [Avatar, ConsentRecord, FAQEntry, CannedClip, TurnRecord, WidgetOrigin]


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


def test_the_avatar_list_shows_bake_status_and_why_a_bake_failed(staff: Client) -> None:
    failed = make_avatar("broken", status=Avatar.Status.FAILED, status_reason="No face was found.")
    baking = make_avatar("busy", status=Avatar.Status.BAKING)
    page = staff.get(url(Avatar, "changelist")).content.decode()
    assert f'data-avatar="{failed.pk}" data-status="failed"' in page
    assert "No face was found." in page
    assert f'data-avatar="{baking.pk}" data-status="baking"' in page
    assert "avatars/bake_status.js" in page  # what keeps the column up to date

    states = staff.get(url(Avatar, "bake_status"), {"id": [failed.pk, baking.pk, "x"]}).json()
    by_id = {row["id"]: row for row in states["avatars"]}
    assert by_id[failed.pk] == {
        "id": failed.pk,
        "status": "failed",
        "label": "Failed",
        "reason": "No face was found.",
    }
    assert by_id[baking.pk]["label"] == "Baking"
    assert Client().get(url(Avatar, "bake_status"), {"id": failed.pk}).status_code == 302


def test_consent_with_its_provenance_is_entered_on_the_avatar_page(staff: Client) -> None:
    avatar = make_avatar("portrayed", consent=False)
    page = staff.get(url(Avatar, "change", avatar.pk)).content.decode()
    for field in ("scope", "purpose", "evidence", "evidence_note"):
        assert f'name="consents-__prefix__-{field}"' in page, field
    data = {
        "name": "Portrayed",
        "slug": "portrayed",
        "renderer": "auto",
        "tts_backend": "piper",
        "voice": "",
        "language": "en",
        "other_languages": "",
        "crop_size": "",
        "persona": "",
        "consents-TOTAL_FORMS": "1",
        "consents-INITIAL_FORMS": "0",
        "consents-MIN_NUM_FORMS": "0",
        "consents-MAX_NUM_FORMS": "1000",
        "consents-0-depicted_person": "Ada Example",
        "consents-0-consented_by": "Ada Example",
        "consents-0-scope": "Our web shop, English and Japanese.",
        "consents-0-purpose": "Answer customers' questions.",
        "consents-0-evidence": SimpleUploadedFile("release.pdf", b"%PDF-1.4 signed release"),
        "consents-0-evidence_note": "Signed on paper, filed in HR.",
        "consents-0-granted_at_0": "2025-01-01",
        "consents-0-granted_at_1": "09:00:00",
    }
    response = staff.post(url(Avatar, "change", avatar.pk), data)
    assert response.status_code == 302, response.context["errors"]
    consent = avatar.consents.get()
    assert consent.scope == "Our web shop, English and Japanese."
    assert consent.purpose == "Answer customers' questions."
    assert consent.evidence_note == "Signed on paper, filed in HR."
    assert consent.evidence.name.startswith("consent/") and consent.evidence.read().startswith(
        b"%PDF"
    )


def test_the_consent_list_links_each_record_on_its_own_column(staff: Client) -> None:
    avatar = make_avatar("listed")
    consent = avatar.consents.get()
    page = staff.get(url(ConsentRecord, "changelist")).content.decode()
    record_cell = page[page.index('class="field-record"') :].split("</th>")[0]
    assert f'href="{url(ConsentRecord, "change", consent.pk)}"' in record_cell
    avatar_cell = page[page.index('class="field-avatar_link"') :].split("</td>")[0]
    assert f'href="{url(Avatar, "change", avatar.pk)}"' in avatar_cell
    assert url(ConsentRecord, "change", consent.pk) not in avatar_cell


def test_bake_settings_and_languages_are_fields_not_json(staff: Client) -> None:
    avatar = make_avatar("tuned", bake_params={"crop_size": 192, "kept": True})
    change = url(Avatar, "change", avatar.pk)
    page = staff.get(change).content.decode()
    assert 'name="bake_params"' not in page
    assert '<select name="crop_size"' in page and "Face crop size" in page
    assert '<option value="192" selected>' in page
    assert '<input type="text" name="other_languages"' in page
    assert "codes separated by commas" in page

    data = {
        "name": "Tuned",
        "slug": "tuned",
        "renderer": "cpu",
        "tts_backend": "piper",
        "voice": "",
        "language": "en",
        "other_languages": "ja, FR ja",
        "crop_size": "320",
        "persona": "",
        "consents-TOTAL_FORMS": "1",
        "consents-INITIAL_FORMS": "1",
        "consents-MIN_NUM_FORMS": "0",
        "consents-MAX_NUM_FORMS": "1000",
    }
    consent = avatar.consents.get()
    for field in ("depicted_person", "consented_by", "scope", "purpose", "evidence_note"):
        data[f"consents-0-{field}"] = getattr(consent, field)
    data["consents-0-id"] = consent.pk
    data["consents-0-avatar"] = avatar.pk
    data["consents-0-granted_at_0"] = consent.granted_at.strftime("%Y-%m-%d")
    data["consents-0-granted_at_1"] = consent.granted_at.strftime("%H:%M:%S")
    response = staff.post(change, data)
    assert response.status_code == 302, response.context["errors"]
    avatar.refresh_from_db()
    assert avatar.bake_params == {"crop_size": 320, "kept": True}
    assert avatar.other_languages == ["ja", "fr"]

    data.update(other_languages="japanese!", crop_size="")
    refused = staff.post(change, data)
    assert refused.status_code == 200
    assert "Not a language code: japanese!" in refused.content.decode()
    data.update(other_languages="")
    assert staff.post(change, data).status_code == 302
    avatar.refresh_from_db()
    assert avatar.bake_params == {"kept": True} and avatar.other_languages == []
