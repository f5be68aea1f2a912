"""Which language an avatar hears: its own, unless Whisper base is clearly hearing another of
the avatar's languages; never a language the avatar does not speak."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import numpy as np
import pytest

from conversation.asr.packaged import whisper_base
from conversation.asr.whisper_backend import (
    OTHER_LANGUAGE_ODDS,
    FasterWhisperAsr,
    choose_language,
)
from conversation.tts.kokoro import KokoroTts
from tests.speech_audio import espeak_pcm16

MODELS = Path(os.environ["AVATAR_MODELS_DIR"])
QUESTION_JA = "営業時間を教えてください。"


@pytest.fixture(scope="module")
def asr() -> FasterWhisperAsr:
    return FasterWhisperAsr(str(whisper_base(MODELS)))


@pytest.fixture(scope="module")
def japanese() -> np.ndarray:
    """A Japanese question in Kokoro's voice, with the pause a customer leaves after it."""

    async def speak() -> np.ndarray:
        tts = KokoroTts(MODELS)
        blocks = [b async for b in tts.synthesize(QUESTION_JA, voice="jm_kumo", language="ja")]
        return np.concatenate([*blocks, np.zeros(4800, dtype=np.int16)])

    return asyncio.run(speak())


def test_another_language_needs_clearly_better_odds_than_the_avatars_own() -> None:
    assert choose_language({"en": 0.2, "ja": 0.7}, "en", ["ja"]) == "en"  # 3.5 times: not enough
    assert choose_language({"en": 0.01, "ja": 0.9}, "en", ["ja"]) == "ja"
    assert choose_language({"en": 0.01, "ja": 0.9}, "en", ["ja"], odds=100) == "en"
    # A language the avatar does not speak does not count, however likely.
    assert choose_language({"en": 0.05, "zh": 0.9, "ja": 0.05}, "en", ["ja"]) == "en"
    assert choose_language({"en": 0.001, "de": 0.2, "ja": 0.7}, "en", ["de", "ja"]) == "ja"
    assert choose_language({"en": 0.9}, "en", []) == "en"
    assert OTHER_LANGUAGE_ODDS > 3.1  # above the worst English question measured


def test_japanese_speech_is_heard_as_japanese_by_an_avatar_that_speaks_it(
    asr: FasterWhisperAsr, japanese: np.ndarray
) -> None:
    heard = asr.transcribe(japanese, language="en", other_languages=("ja",))

    assert heard.language == "ja"
    assert "営業時間" in heard.text


def test_english_speech_stays_english_for_that_avatar(asr: FasterWhisperAsr) -> None:
    # Whisper's own top guess for this espeak-ng question is Swedish (docs/languages.md).
    audio = espeak_pcm16("Where is my order?", silence_after=0.3)

    heard = asr.transcribe(audio, language="en", other_languages=("ja",))

    assert heard.language == "en"
    assert "order" in heard.text.lower()


def test_a_single_language_avatar_keeps_forcing_its_language(
    asr: FasterWhisperAsr, japanese: np.ndarray
) -> None:
    assert asr.transcribe(japanese, language="en").language == "en"
    assert asr.transcribe(japanese, language="en", other_languages=("en",)).language == "en"
