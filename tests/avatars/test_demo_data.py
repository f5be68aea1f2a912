"""The demo data command: a demo avatar with consent stating its provenance, and a shop FAQ."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from avatars.models import Avatar, FAQEntry
from avatars.selectors import avatar_has_valid_consent, consent_valid_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_load_demo_is_complete_and_idempotent() -> None:
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())
    avatar = Avatar.objects.get(slug="demo")
    assert avatar.source_media.read()[:8] == b"\x89PNG\r\n\x1a\n"
    consent = consent_valid_for(avatar)
    assert consent is not None and "public domain" in consent.consented_by.lower()
    assert "skimage.data.astronaut" in consent.evidence_note
    assert avatar.consents.count() == 1
    shared = FAQEntry.objects.filter(avatar__isnull=True, active=True)
    assert shared.filter(language="en").count() >= 15
    assert shared.filter(language="ja").count() >= 6
    assert (avatar.language, avatar.other_languages) == ("en", ["ja"])
    assert avatar_has_valid_consent(avatar)
    # the neural voice, each language's default, without any setting
    assert (avatar.tts_backend, avatar.voice) == ("piper", "")


def test_load_demo_with_bake_queues_it(redis_client) -> None:
    call_command("load_demo", "--bake", stdout=io.StringIO())
    assert Avatar.objects.get(slug="demo").status == Avatar.Status.BAKING
    assert redis_client.llen("lipsync") == 1
