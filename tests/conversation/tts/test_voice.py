from __future__ import annotations

import pytest

from conversation.tts.base import TtsError, TtsErrorKind, voice_for


@pytest.mark.parametrize(
    ("language", "voice"),
    [
        ("en", "en-us"),
        ("en-GB", "en-gb"),
        ("de", "de"),
        ("fr", "fr-fr"),
        ("es", "es"),
        ("ja", "ja"),
        ("pt_BR", "pt-br"),
        ("zh", "cmn"),
        ("de-AT", "de"),
        ("fi", "fi"),
    ],
)
def test_language_maps_to_an_espeak_voice(language: str, voice: str) -> None:
    assert voice_for(language, None) == voice


def test_the_avatars_own_voice_wins() -> None:
    assert voice_for("en", "en-gb-scotland") == "en-gb-scotland"
    assert voice_for("de", "") == "de"


def test_a_language_that_is_no_code_is_a_bad_voice() -> None:
    with pytest.raises(TtsError) as caught:
        voice_for("klingon!", None)
    assert caught.value.kind is TtsErrorKind.BAD_VOICE
