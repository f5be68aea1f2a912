"""Whisper base from its packages: assembled, checked by sha256, and refused when it differs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conversation.asr.packaged import MODEL_BYTES, PackagedModelError, whisper_base
from conversation.asr.select import build_asr
from conversation.asr.whisper_backend import FasterWhisperAsr
from tests.speech_audio import espeak_pcm16

MODELS = Path(os.environ["AVATAR_MODELS_DIR"])


def test_a_wrong_checksum_is_refused_and_nothing_is_left_to_load(tmp_path: Path) -> None:
    with pytest.raises(PackagedModelError, match="expected 0000000000000000"):
        whisper_base(tmp_path, expected_sha256="0" * 64)

    assert not (tmp_path / "whisper-base" / "model.bin").exists()
    assert [p.name for p in (tmp_path / "whisper-base").iterdir()] == []


def test_a_damaged_model_is_assembled_again(tmp_path: Path) -> None:
    target = whisper_base(tmp_path)
    model = target / "model.bin"
    with model.open("r+b") as file:  # same size, different bytes
        file.seek(MODEL_BYTES // 2)
        file.write(b"\x00" * 64)

    assert whisper_base(tmp_path) == target
    with model.open("rb") as file:
        file.seek(MODEL_BYTES // 2)
        assert file.read(64) != b"\x00" * 64


def test_the_default_recognizer_is_whisper_base_from_its_packages() -> None:
    backend, reason = build_asr(None, device="cpu", compute_type="int8", models_dir=MODELS)

    assert isinstance(backend, FasterWhisperAsr)
    assert reason == "faster-whisper: base (packaged) on cpu (int8)"
    heard = backend.transcribe(
        espeak_pcm16("When do you open on Sunday?", silence_after=0.3), language="en"
    )
    assert heard.text.lower().strip(" .?") == "when do you open on sunday"
