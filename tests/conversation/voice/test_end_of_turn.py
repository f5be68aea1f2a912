"""The packaged Smart Turn model: checked by sha256, fed the features it was trained on."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from conversation.voice.end_of_turn import (
    TurnCompletion,
    TurnModelError,
    packaged_model,
    transcript_looks_complete,
)
from tests.speech_audio import espeak_pcm16


@pytest.fixture(scope="module")
def model() -> TurnCompletion:
    return TurnCompletion()


def test_an_altered_model_file_is_refused(tmp_path: Path) -> None:
    altered = tmp_path / "smart-turn.onnx"
    shutil.copyfile(packaged_model(), altered)
    with altered.open("r+b") as file:
        file.seek(1000)
        file.write(b"\xff\xfe")
    with pytest.raises(TurnModelError, match="sha256"):
        TurnCompletion(altered)
    with pytest.raises(TurnModelError, match="no end-of-turn model"):
        TurnCompletion(tmp_path / "gone.onnx")


def test_features_match_the_reference_implementation_shipped_beside_the_model(
    model: TurnCompletion,
) -> None:
    # pipecat's own numpy port of the Whisper feature extractor, loaded from its file (the
    # package itself is not importable without its framework's dependencies).
    source = packaged_model().parent.parent / "_whisper_features.py"
    spec = importlib.util.spec_from_file_location("reference_features", source)
    assert spec is not None and spec.loader is not None
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)

    speech = espeak_pcm16("When do you open on Sunday?", silence_after=0.2)
    padded = np.pad(speech.astype(np.float32) / 32768.0, (8 * 16000 - len(speech), 0))
    expected = reference.compute_whisper_log_mel_features(padded, do_normalize=True)

    assert np.allclose(model._features(speech)[0], expected, atol=1e-3)


def test_a_finished_question_is_judged_complete(model: TurnCompletion) -> None:
    verdict = model.judge(espeak_pcm16("When do you open on Sunday?", silence_after=0.2))
    assert verdict.complete and 0.5 <= verdict.probability <= 1.0


def test_bad_audio_is_a_typed_error(model: TurnCompletion) -> None:
    for bad in (np.zeros(0, np.int16), np.zeros(100, np.float32), np.zeros((2, 100), np.int16)):
        with pytest.raises(ValueError):
            model.judge(bad)
    long_talk = espeak_pcm16("one two three four five six seven eight nine ten " * 4)
    assert 0.0 <= model.judge(long_talk).probability <= 1.0  # only the last 8 s are heard


@pytest.mark.parametrize(
    "text",
    [
        "When do you open on Sunday?",
        "I'd like to return a blender I bought for $45.",
        "Hi there! What time do you guys close on Saturdays?",
        "I can't remember my password. What do I do?",
        "Thank you!",
        "営業時間は何時ですか？",
    ],
)
def test_whole_questions_look_complete(text: str) -> None:
    assert transcript_looks_complete(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "How do I return the",
        "How do I return the jacket",  # no closing punctuation: Whisper heard no end
        "I bought a kettle on Monday and...",
        "Can I pay with,",
        "What is the.",
        "I was wondering if um.",
        "Do you deliver to?",
    ],
)
def test_cut_off_phrases_do_not(text: str) -> None:
    assert not transcript_looks_complete(text)
