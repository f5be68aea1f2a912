"""The Japanese neural voice in this process: the packaged Kokoro-82M model, really speaking."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from avatarsite.env import PACKAGED_MODELS_DIR
from conversation.tts import kokoro as kokoro_module
from conversation.tts.base import OUTPUT_RATE, TtsError, TtsErrorKind
from conversation.tts.kokoro import MODEL_FILE, KokoroTts, load_model, model_file, phrases
from conversation.tts.pcm import MAX_BLOCK
from tests.conversation.tts.conftest import timed_speech

SENTENCE = "営業時間は午前九時から午後六時までです。"


def kokoro() -> KokoroTts:
    return KokoroTts(PACKAGED_MODELS_DIR)


async def collect(text: str, voice: str = "jf_alpha") -> np.ndarray:
    blocks = [b async for b in kokoro().synthesize(text, voice=voice, language="ja")]
    assert all(b.ndim == 1 and b.dtype == np.int16 and b.size <= MAX_BLOCK for b in blocks)
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if audio.size else 0.0


async def test_japanese_text_is_spoken_as_16k_int16() -> None:
    audio = await collect(SENTENCE)

    assert 1.5 < audio.size / OUTPUT_RATE < 8.0  # about 3 s of speech, not a beep
    assert 500 < rms(audio) < 20000 and np.abs(audio).max() < 32767


async def test_every_voice_speaks_and_an_unknown_one_is_refused() -> None:
    for voice in ("jm_kumo", "jf_nezumi"):
        assert rms(await collect("はい、承知しました。", voice)) > 500
    with pytest.raises(TtsError) as refused:
        await collect(SENTENCE, "nobody")
    assert refused.value.kind is TtsErrorKind.BAD_VOICE


def test_the_model_loads_once_per_process() -> None:
    assert kokoro().load() is kokoro().load()
    assert load_model(PACKAGED_MODELS_DIR) is kokoro().load()


def test_the_model_is_assembled_and_a_damaged_file_is_assembled_again(tmp_path: Path) -> None:
    target = tmp_path / MODEL_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the model")

    assert model_file(tmp_path) == target
    assert target.stat().st_size == (PACKAGED_MODELS_DIR / MODEL_FILE).stat().st_size
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_a_models_folder_that_cannot_hold_the_model_is_a_bad_voice(tmp_path: Path) -> None:
    blocked = tmp_path / "models"
    blocked.write_text("a file where the folder should be")

    for _ in range(2):  # and again from memory, without another try
        with pytest.raises(TtsError) as failed:
            load_model(blocked)
        assert failed.value.kind is TtsErrorKind.BAD_VOICE


@pytest.mark.parametrize(
    ("text", "speaks"),
    [
        ("😀👍🏽", False),
        ("\u200d\ufe0f\x00\x1b", False),
        ("ご注文😀ありがとうございます\x07。", True),
        ("Mixed: こんにちは, Привет and hello 😀.", True),
        ("返品はwww.northwind.example/returnsから、24時間受け付けます。", True),
    ],
)
async def test_odd_text_is_spoken_or_skipped_never_a_crash(text: str, speaks: bool) -> None:
    audio = await collect(text)

    assert (rms(audio) > 300) == speaks


async def test_a_1000_character_sentence_is_read_in_pieces_and_streams() -> None:
    text = "返品は三十日以内であれば、レシートをお持ちいただければ可能です" * 33
    assert len(text) > 1000
    pieces = phrases(kokoro().load(), text)
    assert len(pieces) > 1 and all(0 < len(piece) <= 500 for piece in pieces)

    blocks = kokoro().synthesize(text, voice="jf_alpha", language="ja")
    first = await anext(blocks)  # the first piece is out before the rest is made
    await blocks.aclose()  # what a barge-in does

    assert first.size > 0


async def test_the_voice_says_when_each_phoneme_is_spoken() -> None:
    """As piper's (`timed_speech`), named by the model's own symbols."""
    blocks = [
        b
        async for b in kokoro().synthesize(
            "ママは毎朝パンを食べます。文房具も売っています。", voice="jf_alpha", language="ja"
        )
    ]
    _, spans = timed_speech(blocks)  # two sentences

    assert len(spans) > 25
    assert all(set(span.ipa) <= set(kokoro().load().vocab) for span in spans)
    sounds = [span.ipa.rstrip("ː") for span in spans]
    assert sounds[:4] == ["m", "a", "m", "a"] and {"p", "b", "ɯ"} <= set(sounds)


def test_without_the_onnx_package_the_model_loads_unpatched(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = model_file(PACKAGED_MODELS_DIR)
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` fails, as where it is absent
    with caplog.at_level(logging.WARNING, logger="conversation.tts.kokoro"):
        assert kokoro_module._with_durations(path) == (str(path), False)
    assert "no phoneme timings (the onnx package is not installed)" in caplog.text
