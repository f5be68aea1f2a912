from __future__ import annotations

from pathlib import Path

import pytest

from conversation.asr.pocketsphinx_backend import PocketsphinxAsr
from conversation.asr.select import build_asr
from conversation.asr.whisper_backend import FasterWhisperAsr


def test_pocketsphinx_when_asked_for_by_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="conversation.asr.select")
    backend, reason = build_asr(
        "pocketsphinx", device="cpu", compute_type="int8", models_dir=tmp_path
    )
    assert isinstance(backend, PocketsphinxAsr)
    assert reason == "pocketsphinx: WHISPER_MODEL=pocketsphinx"
    assert "asr: pocketsphinx" in caplog.text
    assert not any(tmp_path.iterdir())  # Whisper base was not even assembled


def test_pocketsphinx_when_the_whisper_model_is_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(tmp_path / "gone")
    backend, reason = build_asr(missing, device="cpu", compute_type="int8", models_dir=tmp_path)

    assert isinstance(backend, PocketsphinxAsr)
    assert reason.startswith("pocketsphinx:") and "no Whisper model directory" in reason
    assert missing in reason and "\n" not in reason
    assert missing in caplog.text


def test_faster_whisper_when_the_model_loads(tiny_whisper_dir: Path, tmp_path: Path) -> None:
    backend, reason = build_asr(
        str(tiny_whisper_dir), device="cpu", compute_type="int8", models_dir=tmp_path
    )

    assert isinstance(backend, FasterWhisperAsr)
    assert backend.name == "faster-whisper"
    assert reason.startswith("faster-whisper:")
