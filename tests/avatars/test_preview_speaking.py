"""The admin action "Preview speaking": staff see an avatar saying a sentence (an MP4 with sound
and a contact sheet) before it goes live; never without valid consent, never for non-staff."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from avatars.forms import PREVIEW_SENTENCES
from avatars.models import Avatar
from tests.avatars.factories import make_avatar, portrait_bytes
from tests.bench.test_preview_avatar import streams

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "admin:avatars_avatar_changelist"
PAGE = "/admin/avatars/avatar/{pk}/preview-speaking/"


def preview(client: Client, avatar: Avatar, **fields: str):  # type: ignore[no-untyped-def]
    """The action from the avatar list, which leads to the preview page; with `fields`, the
    page's form sent."""
    data = {"action": "preview_speaking", "_selected_action": [avatar.pk]}
    shown = client.post(reverse(CHANGELIST), data, follow=True)
    if not fields or shown.redirect_chain[-1][0] != PAGE.format(pk=avatar.pk):
        return shown
    return client.post(PAGE.format(pk=avatar.pk), fields)


def data_url(page: str, kind: str) -> bytes:
    found = re.search(rf'src="data:{re.escape(kind)};base64,([A-Za-z0-9+/=]+)"', page)
    assert found, f"no {kind} on the page"
    return base64.b64decode(found.group(1))


def test_staff_see_the_demo_avatar_say_a_sentence_in_its_voice(
    staff: Client, tmp_path: Path
) -> None:
    call_command("load_demo", stdout=io.StringIO())
    demo = Avatar.objects.get(slug="demo")
    before = (demo.status, demo.baked_path, demo.baked_checksum, demo.updated_at)
    asked = preview(staff, demo)  # from the list: the sentence to say, the default offered
    assert asked.status_code == 200
    assert PREVIEW_SENTENCES["en"] in asked.content.decode()
    assert "<video" not in asked.content.decode()

    shown = preview(staff, demo, text="Bob may move the map.", preview="Preview speaking")
    page = shown.content.decode()
    assert shown.status_code == 200 and "private, no-store" in shown["Cache-Control"]
    assert re.search(r"follows \d+ phoneme timings", page)  # Piper, the demo's voice
    video = tmp_path / "preview.mp4"
    video.write_bytes(data_url(page, "video/mp4"))
    found = streams(video)
    assert found["video"]["codec_name"] == "h264" and found["audio"]["codec_name"] == "aac"
    sheet = cv2.imdecode(np.frombuffer(data_url(page, "image/png"), np.uint8), cv2.IMREAD_COLOR)
    assert sheet is not None and sheet.shape[1] > sheet.shape[0] and np.ptp(sheet) > 100
    demo.refresh_from_db()
    assert (demo.status, demo.baked_path, demo.baked_checksum, demo.updated_at) == before


def test_an_avatar_without_valid_consent_is_not_previewed(staff: Client) -> None:
    avatar = make_avatar("nobody", consent=False)
    avatar.source_media.save("face.png", ContentFile(portrait_bytes()), save=True)
    page = preview(staff, avatar, text="Hello.", preview="Preview speaking").content.decode()
    assert "no valid consent record" in page
    assert "<video" not in page and "data:image/png" not in page


def test_only_staff_may_preview(client: Client) -> None:
    call_command("load_demo", stdout=io.StringIO())
    user = get_user_model().objects.create_user("visitor", "v@example.com", "pw-123456")
    client.force_login(user)
    response = preview(client, Avatar.objects.get(slug="demo"), text="Hi.", preview="Preview")
    assert "<video" not in response.content.decode()
    assert response.redirect_chain and "/login/" in response.redirect_chain[-1][0]
    direct = client.post(PAGE.format(pk=Avatar.objects.get(slug="demo").pk), {"text": "Hi."})
    assert direct.status_code == 302 and "/login/" in direct["Location"]
