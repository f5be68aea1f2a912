"""What a session reads of its avatar's voice when it opens: the voice that will speak, whose
id is the voice part of the canned-clip key."""

from __future__ import annotations

import pytest

from avatars.clip_keys import canned_clip_key
from avatars.models import Avatar
from conversation.edge.assembly import load_session_setup
from tests.avatars.factories import make_avatar

pytestmark = pytest.mark.django_db(transaction=True)


def key(voice: str) -> str:
    return canned_clip_key(
        avatar_id=1, baked_checksum="c", voice=voice, renderer="cpu", text="We open at 9 a.m."
    )


def test_a_new_avatar_speaks_with_the_neural_voice_and_a_changed_voice_changes_the_key() -> None:
    avatar = make_avatar(status=Avatar.Status.READY)
    neural = load_session_setup(avatar.slug).avatar.voice

    avatar.tts_backend = Avatar.TtsBackend.ESPEAK
    avatar.save()
    espeak = load_session_setup(avatar.slug).avatar.voice
    avatar.tts_backend, avatar.voice = Avatar.TtsBackend.PIPER, "en_US-not-installed-medium"
    avatar.save()
    missing = load_session_setup(avatar.slug).avatar.voice

    assert neural == "piper:en_US-joe-medium"
    assert espeak == missing == "espeak-ng:en-us"  # the missing voice speaks with espeak-ng
    assert key(neural) != key(espeak)  # its clips are rendered afresh in the new voice


def test_each_language_speaks_with_the_voice_chosen_for_it_and_keys_its_clips_by_it() -> None:
    avatar = make_avatar(
        status=Avatar.Status.READY,
        language="en",
        other_languages=["ja", "de"],
        voices={"ja": "kokoro:jm_kumo"},
    )
    runtime = load_session_setup(avatar.slug).avatar
    assert runtime.voices == {
        "en": "piper:en_US-joe-medium",
        "ja": "kokoro:jm_kumo",
        "de": "espeak-ng:de",  # no neural German voice
    }
    assert runtime.voice_for("ja") == runtime.speaking("ja").voice == "kokoro:jm_kumo"
    assert runtime.speaking("en") is runtime

    avatar.voices = {"ja": "kokoro:jf_nezumi"}
    avatar.save()
    other = load_session_setup(avatar.slug).avatar
    assert key(other.voice_for("ja")) != key(runtime.voice_for("ja"))  # Japanese rendered anew
    assert key(other.voice_for("en")) == key(runtime.voice_for("en"))  # English clips kept

    avatar.voices = {"ja": "kokoro:jf_not_installed"}
    avatar.save()
    assert load_session_setup(avatar.slug).avatar.voice_for("ja") == "espeak-ng:ja"
