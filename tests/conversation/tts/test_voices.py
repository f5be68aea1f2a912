"""The voice registry: installed voices as data, a dropped-in Piper voice found without code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversation.tts.base import TtsError
from conversation.tts.voices import ESPEAK, KOKORO, PIPER, VoiceInfo, installed_voices
from tests.conversation.tts.conftest import drop_voice


def test_the_packaged_voices_and_espeak_ng_are_listed_with_their_licences(
    joe: VoiceInfo,
) -> None:
    voices = installed_voices().voices

    assert voices[0] == joe
    assert (joe.engine, joe.language, joe.sample_rate) == (PIPER, "en-us", 22050)
    assert "CC0" in joe.licence and joe.model_path is not None and joe.model_path.is_file()
    kokoro = [v for v in voices if v.engine == KOKORO]
    assert [v.name for v in kokoro][:1] == ["jf_alpha"] and len(kokoro) == 5
    assert {(v.language, v.sample_rate) for v in kokoro} == {("ja", 24000)}
    assert all(v.licence.startswith("Apache-2.0") for v in kokoro)
    espeak = {v.name: v for v in voices if v.engine == ESPEAK}
    assert {"en-us", "de", "fr-fr", "ja", "cmn"} <= set(espeak)
    assert espeak["de"].language == "de" and "GPL" in espeak["de"].licence
    assert len({v.id for v in voices}) == len(voices)


def test_a_voice_dropped_into_the_folder_shows_up(joe: VoiceInfo, tmp_path: Path) -> None:
    assert installed_voices(tmp_path / "voices").find("de_DE-test-medium") is None
    drop_voice(tmp_path / "voices", joe, "de_DE-test-medium", language="de_DE")

    voices = installed_voices(tmp_path / "voices")

    found = voices.find("de_DE-test-medium")
    assert found is not None and found.engine == PIPER and found.language == "de-de"
    assert voices.resolve("", "de", engine=PIPER) == found  # German now has a neural voice
    assert voices.resolve("", "de", engine=ESPEAK).engine == ESPEAK  # unless espeak is asked
    assert voices.resolve("", "en", engine=PIPER) == joe  # the packaged one stays first


def test_the_language_comes_from_the_config_or_its_espeak_voice(
    joe: VoiceInfo, tmp_path: Path
) -> None:
    model = drop_voice(tmp_path, joe, "fr_FR-x-low")
    config = json.loads(Path(f"{model}.json").read_text())
    del config["language"]
    config["espeak"]["voice"] = "fr"
    config["license"] = "CC-BY-4.0"
    Path(f"{model}.json").write_text(json.dumps(config))

    found = installed_voices(tmp_path).find("piper:fr_FR-x-low")

    assert found is not None and found.language == "fr" and found.licence == "CC-BY-4.0"


@pytest.mark.parametrize(
    "damage", ["no config", "not json", "no sample rate", "huge config", "a folder"]
)
def test_a_voice_with_an_unusable_config_is_skipped_with_a_warning(
    damage: str, joe: VoiceInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = drop_voice(tmp_path, joe, "en_US-damaged-medium")
    config = Path(f"{model}.json")
    if damage == "no config":
        config.unlink()
    elif damage == "not json":
        config.write_text("{")
    elif damage == "no sample rate":
        config.write_text(json.dumps({"audio": {}, "espeak": {"voice": "en-us"}}))
    elif damage == "huge config":
        config.write_text(" " * (5 * 1024 * 1024) + "{}")
    else:
        model.unlink()
        model.mkdir()

    voices = installed_voices(tmp_path)

    assert voices.find("en_US-damaged-medium") is None
    assert "en_US-damaged-medium.onnx skipped" in caplog.text


def test_resolving_a_voice() -> None:
    voices = installed_voices()
    assert voices.resolve("", "ja", engine=PIPER).id == "kokoro:jf_alpha"  # neural Japanese
    assert voices.resolve("piper:en_US-joe-medium", "ja", engine=PIPER).id == "kokoro:jf_alpha"
    assert voices.resolve("kokoro:jm_kumo", "ja-JP", engine=PIPER).id == "kokoro:jm_kumo"
    assert voices.resolve("", "ja", engine=ESPEAK).id == "espeak-ng:ja"
    assert voices.resolve("en-gb", "en-GB", engine=ESPEAK).id == "espeak-ng:en-gb"
    assert voices.resolve("en-gb", "de", engine=ESPEAK).id == "espeak-ng:de"  # not its language
    assert voices.resolve("nobody", "en", engine=PIPER).id == "espeak-ng:en-us"  # missing
    with pytest.raises(TtsError):
        voices.resolve("", "klingon!", engine=PIPER)
    with pytest.raises(TtsError):
        voices.resolve("en -v evil", "en", engine=ESPEAK)
    with pytest.raises(TtsError):
        voices.resolve("-v evil", "de", engine=ESPEAK)
