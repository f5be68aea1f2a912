from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conversation.asr.base import AsrError
from conversation.asr.whisper_backend import (
    FasterWhisperAsr,
    copies_prompt,
    hint_sentences_in,
    prompt_from_hints,
    said_without_prompt,
)
from tests.speech_audio import espeak_pcm16


@pytest.fixture(scope="module")
def asr(tiny_whisper_dir: Path) -> FasterWhisperAsr:
    return FasterWhisperAsr(str(tiny_whisper_dir))


def test_transcribes_with_the_tiny_converted_model(asr: FasterWhisperAsr) -> None:
    audio = espeak_pcm16("what are your opening hours", silence_before=0.3, silence_after=0.3)

    transcript = asr.transcribe(audio, language=None)

    assert transcript.final
    assert isinstance(transcript.text, str)  # noise from random weights
    assert transcript.language in asr.languages  # detected, reported


def test_language_from_the_avatar_is_used(asr: FasterWhisperAsr) -> None:
    audio = espeak_pcm16("guten tag", voice="de")

    assert asr.transcribe(audio, language="de-DE").language == "de"
    assert asr.transcribe(audio, language="fr").language == "fr"


def test_unknown_language_is_detected(asr: FasterWhisperAsr) -> None:
    audio = espeak_pcm16("hello")
    detected = asr.transcribe(audio, language=None).language

    assert asr.transcribe(audio, language="xx-YY").language == detected


def test_hints_become_the_initial_prompt(asr: FasterWhisperAsr) -> None:
    hints = ["What are your opening hours?"] * 100
    transcript = asr.transcribe(np.zeros(16000, dtype=np.int16), language="en", hints=hints)
    assert transcript.language == "en"

    prompt = prompt_from_hints(hints)
    joined = " ".join(hints)
    assert prompt is not None and 350 < len(prompt) <= 400
    assert joined.startswith(prompt) and joined[len(prompt)] == " "  # cut between words
    assert prompt_from_hints(["  ", ""]) is None


def test_missing_directory_is_model_missing(tmp_path: Path) -> None:
    with pytest.raises(AsrError) as caught:
        FasterWhisperAsr(str(tmp_path / "no-such-model"))
    assert caught.value.kind == "model_missing"
    assert "no-such-model" in str(caught.value)


def test_directory_without_the_model_files_is_model_missing(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(AsrError) as caught:
        FasterWhisperAsr(str(tmp_path))
    assert caught.value.kind == "model_missing"
    assert "model.bin" in str(caught.value)


def test_corrupt_model_is_model_missing(tiny_whisper_dir: Path, tmp_path: Path) -> None:
    for name in ("config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes((tiny_whisper_dir / name).read_bytes())
    (tmp_path / "model.bin").write_bytes(b"not a model")
    with pytest.raises(AsrError) as caught:
        FasterWhisperAsr(str(tmp_path))
    assert caught.value.kind == "model_missing"
    assert "cannot load Whisper model" in str(caught.value) and "\n" not in str(caught.value)


HINTS = ("What are your opening hours?", "Do you have gift cards?", "Where is my order?")


@pytest.mark.parametrize(
    ("text", "copied"),
    [
        ("What are your opening hours?", False),  # a customer reading the FAQ
        ("Hi there. What are your opening hours?", False),
        ("where is my order", False),
        ("Do you have gift cards? Do you have gift cards?", True),  # a loop
        ("Where is my order? What are your opening hours?", True),  # the prompt written out
        ("what are your OPENING hours!  Do you have gift-cards?", True),
        ("Hello? Hello?", True),  # a repeat is decoded again too: harmless
        ("営業時間は？営業時間は？", True),  # sentences end without a space in Japanese
        ("It costs $4.95. Shipping is 4.95 too.", False),
        ("", False),
    ],
)
def test_a_transcript_copies_the_prompt_when_it_loops_or_writes_out_two_hints(
    text: str, copied: bool
) -> None:
    assert copies_prompt(text, HINTS) is copied


def test_the_hint_sentences_of_a_transcript_are_found_word_for_word() -> None:
    assert hint_sentences_in("Hi! Where is my ORDER? It is late.", HINTS) == ["where is my order"]
    assert hint_sentences_in("Where is my parcel?", HINTS) == []
    assert hint_sentences_in("", HINTS) == []


@pytest.mark.parametrize(
    ("unprompted", "said"),
    [
        ("Where is my order?", True),
        ("um where is my order please", True),  # the words in order, others between
        ("Where's my order?", True),  # three of four words
        ("I ordered two towels ten days ago. Can you check on my order?", False),
        ("my order where is", False),  # not in order
        ("", False),
    ],
)
def test_a_hint_sentence_is_said_without_the_prompt_when_most_of_its_words_are(
    unprompted: str, said: bool
) -> None:
    assert said_without_prompt("where is my order", unprompted) is said
