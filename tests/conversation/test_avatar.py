"""The avatar as a session sees it: the languages it answers in."""

from __future__ import annotations

from dataclasses import replace

from conversation.avatar import AvatarRuntime


def avatar(*languages: str) -> AvatarRuntime:
    return AvatarRuntime(
        id=1,
        slug="a",
        name="A",
        baked_checksum="",
        renderer="cpu",
        tts_backend="piper",
        voice="",
        language=languages[0],
        languages=languages,
        persona="",
    )


def test_a_heard_language_is_the_avatars_own_code_for_it() -> None:
    speaker = avatar("en-US", "ja-JP")

    assert speaker.own_language("en") == "en-US"
    assert speaker.own_language("ja") == "ja-JP"
    assert avatar("en", "ja").own_language("JA") == "ja"


def test_a_language_the_avatar_does_not_speak_is_none() -> None:
    assert avatar("en", "ja").own_language("de") is None
    assert avatar("en").own_language(None) is None
    assert avatar("en").own_language("") is None


def test_typed_text_is_in_the_language_its_script_names_when_the_avatar_speaks_it() -> None:
    speaker = avatar("en", "ja-JP", "ko")

    assert speaker.written_language("営業時間を教えてください。") == "ja-JP"
    assert speaker.written_language("営業時間") == "ja-JP"  # Han alone, no Chinese: Japanese
    assert speaker.written_language("영업시간이 어떻게 되나요?") == "ko"
    assert speaker.written_language("When are you open?") == "en"
    assert avatar("en", "zh", "ja").written_language("营业时间") == "zh"
    assert avatar("en").written_language("営業時間を教えてください。") == "en"  # not spoken


def test_each_language_has_its_voice_and_the_main_voice_covers_the_rest() -> None:
    speaker = AvatarRuntime(
        id=1,
        slug="a",
        name="A",
        baked_checksum="",
        renderer="cpu",
        tts_backend="piper",
        voice="piper:en_US-joe-medium",
        language="en",
        languages=("en", "ja-JP", "fr"),
        persona="",
        voices={"en": "piper:en_US-joe-medium", "ja-JP": "kokoro:jm_kumo"},
    )

    assert speaker.voice_for("ja") == speaker.voice_for("ja-JP") == "kokoro:jm_kumo"
    assert speaker.voice_for("fr") == speaker.voice_for("ko") == "piper:en_US-joe-medium"
    assert speaker.speaking("ja").voice == "kokoro:jm_kumo"
    assert speaker.speaking("ja").languages == speaker.languages
    assert speaker.speaking("en") is speaker
    regional = replace(
        speaker,
        languages=("en", "en-GB"),
        voices={"en": "piper:en_US-joe-medium", "en-GB": "espeak-ng:en-gb"},
    )
    assert regional.voice_for("en-GB") == "espeak-ng:en-gb"
    assert regional.voice_for("en") == "piper:en_US-joe-medium"
