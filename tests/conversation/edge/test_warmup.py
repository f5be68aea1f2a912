"""The web process warms the voices its avatars will speak with: those of the languages each
usable avatar (ready, with valid consent) speaks, as chosen for it, and no other."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings

from avatars.models import Avatar
from conversation.edge import warmup
from conversation.tts import select
from tests.avatars.factories import make_avatar

pytestmark = pytest.mark.django_db(transaction=True)

READY = Avatar.Status.READY


@pytest.fixture(autouse=True)
def no_fallbacks_left_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "_fallbacks", {})


def test_the_voices_of_the_usable_avatars_languages_are_the_ones_warmed() -> None:
    make_avatar("shop", status=READY, other_languages=["ja"], voices={"ja": "kokoro:jm_kumo"})
    make_avatar("kiosk", status=READY, language="ja", voice="kokoro:jf_nezumi")
    make_avatar("french", status=READY, language="fr", tts_backend=Avatar.TtsBackend.ESPEAK)
    make_avatar("unconsented", status=READY, language="ko", consent=False)
    make_avatar("unbaked", language="de", other_languages=["ja"], voice="kokoro:jf_tebukuro")
    make_avatar("failed", status=Avatar.Status.FAILED, language="ko")
    # Being baked, as the demo avatar is when a fresh `make run` starts its web process.
    make_avatar("baking", status=Avatar.Status.BAKING, language="en-gb")
    make_avatar("baking-unconsented", status=Avatar.Status.BAKING, language="ru", consent=False)

    assert warmup.voices_in_use() == [
        ("en", "", "piper"),
        ("ja", "kokoro:jm_kumo", "piper"),
        ("ja", "kokoro:jf_nezumi", "piper"),
        ("fr", "", "espeak-ng"),
        ("en-gb", "", "piper"),
    ]


def test_warming_loads_those_voices_once_each(caplog: pytest.LogCaptureFixture) -> None:
    make_avatar("shop", status=READY, other_languages=["ja", "de"], voices={"ja": "kokoro:jm_kumo"})
    make_avatar("kiosk", status=READY, language="ja", voice="kokoro:jf_nezumi")

    with caplog.at_level(logging.INFO, logger="conversation.edge.warmup"):
        warm = warmup.warm_voices(settings.TTS_VOICES_DIR, settings.MODELS_DIR)

    # German has no neural voice: espeak-ng loads nothing ahead.
    assert warm == ["piper:en_US-joe-medium", "kokoro:jm_kumo", "kokoro:jf_nezumi"]
    loaded = select.health()["loaded"]
    assert "en_US-joe-medium.onnx" in loaded and any("kokoro" in name for name in loaded)  # type: ignore[union-attr,operator]
    assert "voice warm: kokoro:jm_kumo" in caplog.text
    assert select.voice_fallbacks() == {}


def test_a_missing_chosen_voice_is_not_warmed_and_nothing_is_without_avatars(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert warmup.warm_voices(settings.TTS_VOICES_DIR, settings.MODELS_DIR) == []
    make_avatar("shop", status=READY, voice="piper:en_US-gone-medium")
    with caplog.at_level(logging.WARNING):
        assert warmup.warm_voices(settings.TTS_VOICES_DIR, settings.MODELS_DIR) == []
    assert "piper:en_US-gone-medium unusable (not installed)" in caplog.text
