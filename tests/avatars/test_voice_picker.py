"""The avatar page's voice of each language: chosen from the voices installed for it, stored,
and heard first through a staff-only sample of the real voice."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import wave
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from avatars.models import Avatar
from conversation.tts import select
from conversation.tts.catalogue import SAMPLES
from conversation.tts.kokoro import KokoroTts
from conversation.tts.voices import packaged_piper_voices
from tests.avatars.factories import make_avatar
from tests.conversation.tts.conftest import drop_voice

pytestmark = pytest.mark.django_db(transaction=True)

PREVIEW = "admin:avatars_avatar_voice_preview"


@pytest.fixture(autouse=True)
def no_fallbacks_left_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "_fallbacks", {})


def change_url(avatar: Avatar) -> str:
    return reverse("admin:avatars_avatar_change", args=[avatar.pk])


def options(page: str, name: str) -> list[str]:
    """The option values of the select named `name`."""
    found = re.search(rf'<select name="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no select {name}"
    return re.findall(r'<option value="([^"]*)"', found.group(1))


def form_data(avatar: Avatar, **voices: str) -> dict[str, object]:
    data: dict[str, object] = {
        "name": avatar.name,
        "slug": avatar.slug,
        "renderer": "auto",
        "tts_backend": avatar.tts_backend,
        "language": avatar.language,
        "other_languages": ", ".join(avatar.other_languages),
        "crop_size": "",
        "persona": "",
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
        "consents-MIN_NUM_FORMS": "0",
        "consents-MAX_NUM_FORMS": "1000",
    }
    data.update(voices)
    return data


def sample(client: Client, **query: str):  # type: ignore[no-untyped-def]
    return client.get(reverse(PREVIEW), {"backend": "piper", **query})


def pcm_of(response) -> np.ndarray:  # type: ignore[no-untyped-def]
    with wave.open(io.BytesIO(response.content)) as file:
        assert (file.getnchannels(), file.getsampwidth(), file.getframerate()) == (1, 2, 16_000)
        return np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")


def alike(one: np.ndarray, other: np.ndarray) -> bool:
    """The same speech: about as long, and the same waveform (onnxruntime may round apart)."""
    if abs(len(one) - len(other)) > len(other) // 100:
        return False
    n = min(len(one), len(other))
    return float(np.corrcoef(one[:n].astype(float), other[:n].astype(float))[0, 1]) > 0.99


def test_each_language_offers_the_voices_installed_for_it(
    staff: Client, tmp_path: Path, settings
) -> None:
    settings.TTS_VOICES_DIR = tmp_path / "voices"
    (joe,) = packaged_piper_voices()
    drop_voice(settings.TTS_VOICES_DIR, joe, "en_GB-dropped-medium", language="en_GB")
    avatar = make_avatar("bilingual", language="en", other_languages=["ja"])

    page = staff.get(change_url(avatar)).content.decode()

    english = options(page, "voice")
    assert english[0] == ""  # the language's default
    assert {"piper:en_US-joe-medium", "piper:en_GB-dropped-medium", "espeak-ng:en-us"} <= set(
        english
    )
    assert not [v for v in english if v.startswith("kokoro:")]
    japanese = options(page, "voice_ja")
    assert {"kokoro:jf_alpha", "kokoro:jm_kumo", "espeak-ng:ja"} <= set(japanese)
    assert not [v for v in japanese if v.startswith("piper:")]
    assert "Default: kokoro: jf_alpha" in page
    assert page.count('class="button voice-preview"') == 2
    assert reverse(PREVIEW) in page and "avatars/voice_preview.js" in page
    # An espeak-ng avatar chooses among espeak-ng's voices only.
    avatar.tts_backend = Avatar.TtsBackend.ESPEAK
    avatar.save()
    page = staff.get(change_url(avatar)).content.decode()
    assert options(page, "voice_ja") == ["", "espeak-ng:ja"]


def test_saving_stores_the_voice_of_each_language(staff: Client) -> None:
    avatar = make_avatar("chooser", language="en", other_languages=["ja"])
    response = staff.post(
        change_url(avatar),
        form_data(avatar, voice="espeak-ng:en-us", voice_ja="kokoro:jm_kumo"),
    )
    assert response.status_code == 302, response.context["errors"]
    avatar.refresh_from_db()
    assert avatar.voice == "espeak-ng:en-us" and avatar.voices == {"ja": "kokoro:jm_kumo"}
    assert (
        avatar.voice_for("ja") == "kokoro:jm_kumo" and avatar.voice_for("en") == "espeak-ng:en-us"
    )
    page = staff.get(change_url(avatar)).content.decode()
    assert '<option value="kokoro:jm_kumo" selected>' in page

    # Back to the default; a voice of another language, or of another backend, is refused.
    response = staff.post(change_url(avatar), form_data(avatar, voice="", voice_ja=""))
    assert response.status_code == 302
    avatar.refresh_from_db()
    assert avatar.voice == "" and avatar.voices == {}
    refused = staff.post(change_url(avatar), form_data(avatar, voice_ja="piper:en_US-joe-medium"))
    assert refused.status_code == 200 and "voice_ja" in refused.context["adminform"].form.errors
    espeak = form_data(avatar, voice_ja="kokoro:jm_kumo")
    espeak["tts_backend"] = "espeak"
    refused = staff.post(change_url(avatar), espeak)
    assert "Not a voice of the espeak backend" in refused.content.decode()


def test_the_sample_is_the_real_voice_speaking(staff: Client) -> None:
    response = sample(staff, voice="kokoro:jm_kumo", language="ja")
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    assert response["X-Voice"] == "kokoro:jm_kumo"
    heard = pcm_of(response)

    async def kokoro(voice: str) -> np.ndarray:
        tts = KokoroTts(settings.MODELS_DIR)
        blocks = tts.synthesize(SAMPLES["ja"], voice=voice, language="ja")
        return np.concatenate([block async for block in blocks])

    assert alike(heard, asyncio.run(kokoro("jm_kumo")))  # Kokoro's own jm_kumo
    assert not alike(heard, asyncio.run(kokoro("jf_alpha")))

    english = sample(staff, voice="", language="en")
    assert english["X-Voice"] == "piper:en_US-joe-medium"
    pcm = pcm_of(english)
    assert len(pcm) > 16_000 and np.sqrt(np.mean(pcm.astype(float) ** 2)) > 500


def test_a_broken_voice_is_sampled_as_espeak_ng_speaks_for_it(
    staff: Client, tmp_path: Path, settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.TTS_VOICES_DIR = tmp_path / "voices"
    (joe,) = packaged_piper_voices()
    drop_voice(settings.TTS_VOICES_DIR, joe, "en_US-broken-medium", corrupt=True)
    with caplog.at_level(logging.WARNING, logger="conversation.tts.select"):
        response = sample(staff, voice="piper:en_US-broken-medium", language="en")
    assert response.status_code == 200 and response["X-Voice"] == "espeak-ng:en-us"
    assert len(pcm_of(response)) > 16_000
    assert "piper:en_US-broken-medium unusable" in caplog.text
    assert "piper:en_US-broken-medium" in select.voice_fallbacks()


def test_the_sample_is_refused_to_all_but_staff_and_to_unknown_voices(staff: Client) -> None:
    query = {"voice": "", "language": "en", "backend": "piper"}
    anonymous = Client().get(reverse(PREVIEW), query)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    customer = Client()
    customer.force_login(get_user_model().objects.create_user("customer", password="pw-123456"))
    refused = customer.get(reverse(PREVIEW), query)
    assert refused.status_code == 302 and "/admin/login/" in refused["Location"]
    clerk = get_user_model().objects.create_user("clerk", password="pw-123456", is_staff=True)
    staff_without_avatars = Client()
    staff_without_avatars.force_login(clerk)
    assert staff_without_avatars.get(reverse(PREVIEW), query).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_avatar"))
    assert staff_without_avatars.get(reverse(PREVIEW), query)["Content-Type"] == "audio/wav"

    for wrong in (
        {"voice": "kokoro:jm_kumo", "language": "en"},  # not an English voice
        {"voice": "piper:../../etc/passwd", "language": "en"},
        {"voice": "", "language": "english!"},
        {"voice": "", "language": "en", "backend": "festival"},
    ):
        assert sample(staff, **wrong).status_code == 400, wrong


def test_a_sample_no_voice_can_speak_is_a_plain_503(staff: Client, settings) -> None:
    settings.ESPEAK_PROGRAM = "/nonexistent/espeak-ng"
    response = sample(staff, voice="espeak-ng:en-us", language="en")
    assert response.status_code == 503 and "could not speak" in response.content.decode()


def test_the_main_language_speaks_with_voice_and_each_other_with_its_own() -> None:
    avatar = Avatar(
        language="en",
        other_languages=["en-gb", "ja-jp", "fr"],
        voice="piper:en_US-joe-medium",
        voices={"en-gb": "espeak-ng:en-gb", "ja": "kokoro:jm_kumo"},
    )
    assert avatar.languages == ["en", "en-gb", "ja-jp", "fr"]
    assert avatar.voice_for("en") == "piper:en_US-joe-medium"  # not en-gb's, though both "en"
    assert avatar.voice_for("en-gb") == "espeak-ng:en-gb"
    assert avatar.voice_for("ja-jp") == "kokoro:jm_kumo"  # the same base language
    assert avatar.voice_for("fr") == "piper:en_US-joe-medium"  # the TTS finds French its own
