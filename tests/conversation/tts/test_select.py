from __future__ import annotations

from pathlib import Path

import pytest

from conversation.tts.espeak import EspeakTts
from conversation.tts.piper import PiperTts
from conversation.tts.select import build_tts
from tests.conversation.tts.piper_install import FakePiper


def test_espeak_is_the_default() -> None:
    assert isinstance(build_tts("espeak", None), EspeakTts)
    assert isinstance(build_tts("espeak", "/voices/x.onnx"), EspeakTts)


def test_piper_when_asked_for_and_a_voice_is_configured(fake_piper: FakePiper) -> None:
    tts = build_tts("piper", str(fake_piper.model))
    assert isinstance(tts, PiperTts)
    assert tts.sample_rate == 22050


@pytest.mark.parametrize("case", ["no voice", "voice file missing", "program missing"])
def test_piper_that_cannot_run_falls_back_to_espeak(
    case: str, fake_piper: FakePiper, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    voice = {"no voice": None, "voice file missing": str(tmp_path / "gone.onnx")}.get(
        case, str(fake_piper.model)
    )
    program = "piper-not-installed-here" if case == "program missing" else "piper"

    assert isinstance(build_tts("piper", voice, piper_program=program), EspeakTts)
    assert "using espeak-ng" in caplog.text
