"""Which voice speaks: the neural voice by default, espeak-ng for languages without one and
whenever the neural voice is missing or corrupt (a warning in the log and in /healthz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conversation.tts import select
from conversation.tts.base import OUTPUT_RATE, TtsError
from conversation.tts.select import AvatarVoice, build_tts, usable_voice
from conversation.tts.voices import ESPEAK, PIPER, VoiceInfo, installed_voices
from tests.conversation.tts.child_processes import child_pids, process_state
from tests.conversation.tts.conftest import drop_voice

SENTENCE = "We refund you within a week."


async def spoken(tts: object, voice: str, language: str = "en") -> np.ndarray:
    assert isinstance(tts, AvatarVoice)
    blocks = [b async for b in tts.synthesize(SENTENCE, voice=voice, language=language)]
    return np.concatenate(blocks)


@pytest.fixture(autouse=True)
def no_fallbacks_left_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "_fallbacks", {})


def test_every_avatar_speaks_with_the_packaged_neural_voice_by_default(joe: VoiceInfo) -> None:
    voices = installed_voices()
    for wanted in ("", "en_US-joe-medium", "piper:en_US-joe-medium"):
        assert usable_voice(voices, wanted, "en", engine=PIPER) == joe
    assert usable_voice(voices, "", "en-GB", engine=PIPER) == joe  # the language, any region
    assert select.voice_fallbacks() == {}
    assert "en_US-joe-medium.onnx" in select.health()["loaded"]  # type: ignore[operator]


def test_languages_without_a_neural_voice_and_espeak_avatars_get_espeak_ng() -> None:
    voices = installed_voices()
    german = usable_voice(voices, "", "de", engine=PIPER)
    assert (german.engine, german.name) == (ESPEAK, "de")
    own = usable_voice(voices, "en-gb-scotland", "en", engine=ESPEAK)
    assert (own.engine, own.name) == (ESPEAK, "en-gb-scotland")
    assert usable_voice(voices, "", "en", engine=ESPEAK).id == "espeak-ng:en-us"
    assert select.voice_fallbacks() == {}  # a choice, not a fallback


def test_an_espeak_ng_voice_chosen_for_a_neural_avatar_speaks_as_chosen(joe: VoiceInfo) -> None:
    voices = installed_voices()
    assert usable_voice(voices, "espeak-ng:ja", "ja", engine=PIPER).id == "espeak-ng:ja"
    scottish = usable_voice(voices, "espeak-ng:en-gb-scotland", "en", engine=PIPER)
    assert scottish.id == "espeak-ng:en-gb-scotland"  # one of the many the registry omits
    assert usable_voice(voices, "espeak-ng:ja", "en", engine=PIPER) == joe  # no English in it
    assert select.voice_fallbacks() == {}  # choices, not fallbacks


def test_a_neural_voice_left_on_an_espeak_ng_avatar_gives_the_languages_espeak_ng() -> None:
    voices = installed_voices()
    cases = [
        ("piper:en_US-joe-medium", "en", "espeak-ng:en-us"),
        ("kokoro:jm_kumo", "ja", "espeak-ng:ja"),
    ]
    for wanted, language, spoken_by in cases:
        assert usable_voice(voices, wanted, language, engine=ESPEAK).id == spoken_by


async def test_the_session_speaks_each_language_with_its_own_voice(joe: VoiceInfo) -> None:
    tts = build_tts("piper")
    english = await spoken(tts, joe.id, "en")
    german = await spoken(tts, joe.id, "de")  # joe speaks no German: espeak-ng does

    assert english.size > OUTPUT_RATE // 2 and german.size > OUTPUT_RATE // 2
    assert select.voice_fallbacks() == {}


async def test_japanese_is_spoken_by_kokoro_and_falls_back_to_espeak_ng_when_it_fails(
    joe: VoiceInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    voices = installed_voices()
    assert usable_voice(voices, "", "ja", engine=PIPER).id == "kokoro:jf_alpha"
    assert select.voice_fallbacks() == {}
    assert "kokoro-v1.0.int8.onnx" in select.health()["loaded"]  # type: ignore[operator]

    blocked = tmp_path / "models"  # a models folder that cannot hold the model
    blocked.write_text("not a folder")
    assert usable_voice(voices, "", "ja", engine=PIPER, models_dir=blocked).id == "espeak-ng:ja"
    tts = AvatarVoice(voices, engine=PIPER, models_dir=blocked)
    blocks = [
        b async for b in tts.synthesize("ご注文ありがとうございます。", voice=joe.id, language="ja")
    ]

    assert sum(b.size for b in blocks) > OUTPUT_RATE // 2  # espeak-ng spoke, never silence
    assert tts.fell_back and "kokoro:jf_alpha" in select.voice_fallbacks()
    assert "speaking with espeak-ng" in caplog.text and "warning" in select.health()


@pytest.mark.parametrize("case", ["missing", "corrupt", "corrupt config"])
async def test_a_missing_or_corrupt_voice_falls_back_to_espeak_ng_with_a_warning(
    case: str, joe: VoiceInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"en_US-{case.replace(' ', '_')}-medium"
    if case != "missing":
        model = drop_voice(tmp_path, joe, name, corrupt=True)
        if case == "corrupt config":
            Path(f"{model}.json").write_text("{not json", encoding="utf-8")
    voices = installed_voices(tmp_path)

    chosen = usable_voice(voices, name, "en", engine=PIPER)
    audio = await spoken(build_tts("piper", voices=voices), chosen.id)

    assert chosen.id == "espeak-ng:en-us"
    assert audio.size > OUTPUT_RATE // 2  # never silence
    assert f"piper:{name}" in select.voice_fallbacks()
    assert "speaking with espeak-ng" in caplog.text
    assert "warning" in select.health()


async def test_a_voice_that_breaks_after_the_session_chose_it_still_speaks(
    joe: VoiceInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = drop_voice(tmp_path, joe, "en_US-later-medium", corrupt=True)
    voices = installed_voices(tmp_path)
    assert voices.find("en_US-later-medium") is not None  # listed: its config reads fine

    # A session opening takes the voice on trust: it must not wait for a model to load.
    chosen = usable_voice(voices, "en_US-later-medium", "en", engine=PIPER, load=False)
    assert chosen.id == "piper:en_US-later-medium"
    tts = build_tts("piper", voices=voices)
    audio = await spoken(tts, chosen.id)

    assert audio.size > OUTPUT_RATE // 2
    assert tts.fell_back  # type: ignore[attr-defined]  # so no canned clip is stored
    # The next session opening in this process knows better.
    assert usable_voice(voices, chosen.id, "en", engine=PIPER, load=False).engine == ESPEAK
    assert "piper:en_US-later-medium" in select.voice_fallbacks()
    assert model.name.removesuffix(".onnx") in caplog.text


def test_an_unknown_backend_is_espeak_ng(caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(build_tts("festival"), AvatarVoice)
    assert build_tts("festival").engine == ESPEAK  # type: ignore[attr-defined]
    assert "unknown backend" in caplog.text


async def test_a_voice_name_that_is_no_name_opens_the_session_and_gives_subtitles_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chosen = usable_voice(installed_voices(), "en -v evil", "en", engine=ESPEAK)

    assert "no voice for the avatar" in caplog.text
    with pytest.raises(TtsError):
        await spoken(build_tts("espeak"), chosen.id)


async def test_closing_the_voice_ends_its_espeak_ng_process_at_once() -> None:
    long_answer = " ".join(f"Sentence {n} of a long answer about refunds." for n in range(30))
    blocks = build_tts("espeak").synthesize(long_answer, voice="", language="en")
    await anext(blocks)
    (pid,) = child_pids("espeak-ng")

    await blocks.aclose()  # what a barge-in does to the speaking sentence

    assert process_state(pid) is None


@pytest.mark.parametrize(
    "text",
    [
        "Mixed: こんにちは, Привет and hello 😀.",
        "\u200d\ufe0f 😀 ok \x00\x1b[0m",
        "Ünïcödé façade, naïve café.",
        "😀👍🏽",
    ],
)
async def test_odd_text_in_its_spoken_form_is_spoken_or_skipped_never_a_crash(text: str) -> None:
    from conversation.tts.spoken import spoken_form

    tts = build_tts("piper")
    words = spoken_form(text, "en")
    blocks = [b async for b in tts.synthesize(words, voice="", language="en")]

    assert (sum(b.size for b in blocks) > 0) == bool(words)
