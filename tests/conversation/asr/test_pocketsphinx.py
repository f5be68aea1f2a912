from __future__ import annotations

import re
import threading

import numpy as np
import pytest

from conversation.asr.base import AsrError
from conversation.asr.pocketsphinx_backend import PocketsphinxAsr, prefer_hinted
from tests.speech_audio import espeak_pcm16

FAQ = [
    "What are your opening hours?",
    "Do you deliver on Sundays?",
    "How much does shipping cost?",
    "Can I return an item?",
]


def _shared_words(transcript: str, spoken: str) -> int:
    return len(set(re.findall(r"[a-z']+", transcript.lower())) & set(spoken.split()))


@pytest.fixture(scope="module")
def asr() -> PocketsphinxAsr:
    return PocketsphinxAsr()


def test_transcribes_an_espeak_question(asr: PocketsphinxAsr) -> None:
    spoken = "what are your opening hours"
    audio = espeak_pcm16(spoken, silence_before=0.5, silence_after=0.5)

    transcript = asr.transcribe(audio, language="en")

    assert transcript.final
    assert transcript.language == "en"
    # Plain pocketsphinx hears "what are your opening now is" here.
    assert _shared_words(transcript.text, spoken) >= 3
    assert "opening" in transcript.text


@pytest.mark.parametrize("spoken", ["what are your opening hours", "how much does shipping cost"])
def test_faq_hints_make_it_at_least_as_good(asr: PocketsphinxAsr, spoken: str) -> None:
    audio = espeak_pcm16(spoken, silence_before=0.3, silence_after=0.3)

    free = asr.transcribe(audio, language="en")
    hinted = asr.transcribe(audio, language="en", hints=FAQ)

    assert _shared_words(hinted.text, spoken) >= _shared_words(free.text, spoken)
    assert hinted.text == spoken  # the grammar pass recovers the whole FAQ question


def test_speech_with_noise_around_it(asr: PocketsphinxAsr) -> None:
    spoken = "what are your opening hours"
    speech = espeak_pcm16(spoken, silence_before=0.5, silence_after=0.5)  # peaks near 21000
    noise = np.random.default_rng(7).normal(0, 100, len(speech))
    audio = np.clip(speech + noise, -32768, 32767).astype(np.int16)

    free = asr.transcribe(audio, language="en")
    hinted = asr.transcribe(audio, language="en", hints=FAQ)

    assert _shared_words(free.text, spoken) >= 3
    assert hinted.text == spoken


def test_speech_beyond_the_faq_keeps_its_own_words(asr: PocketsphinxAsr) -> None:
    spoken = "what are your opening hours on sunday"
    audio = espeak_pcm16(spoken, silence_before=0.3, silence_after=0.3)

    hinted = asr.transcribe(audio, language="en", hints=FAQ)

    # Not cut down to the FAQ question it starts like: the free pass's words are kept ("... on
    # sunday", sometimes "... on so": pocketsphinx's noise estimate carries over from earlier
    # utterances, so two decodes of the same audio may differ in the last word).
    assert hinted.text.startswith("what are your opening hours on ")


def test_other_languages_use_the_english_model(asr: PocketsphinxAsr) -> None:
    audio = espeak_pcm16("what are your opening hours", silence_before=0.3)

    transcript = asr.transcribe(audio, language="de")

    assert transcript.language == "en"
    assert "opening" in transcript.text


def test_silence_gives_an_empty_or_short_transcript(asr: PocketsphinxAsr) -> None:
    transcript = asr.transcribe(np.zeros(16000, dtype=np.int16), language="en", hints=FAQ)
    assert len(transcript.text.split()) <= 1


def test_rejects_audio_that_is_not_int16_mono(asr: PocketsphinxAsr) -> None:
    with pytest.raises(AsrError) as caught:
        asr.transcribe(np.zeros(160, dtype=np.float32), language="en")
    assert caught.value.kind == "failed"


def test_concurrent_calls_are_serialised_and_all_answer(asr: PocketsphinxAsr) -> None:
    spoken = "how much does shipping cost"
    audio = espeak_pcm16(spoken, silence_before=0.2, silence_after=0.2)
    results: list[str] = []

    def run() -> None:
        results.append(asr.transcribe(audio, language="en", hints=FAQ).text)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [spoken] * 4


@pytest.mark.parametrize(
    ("free", "hinted", "expected"),
    [
        ("what are your opening now is", "what are your opening hours", True),
        ("i want to eat it up please", "can i return an item", False),
        ("how much goes to the cause", "how much does shipping cost", True),
        ("when they are not like a", "can i return an item", False),
        ("what are your opening hours on sunday", "what are your opening hours", False),
        ("what", "", False),
    ],
)
def test_prefer_hinted(free: str, hinted: str, expected: bool) -> None:
    assert prefer_hinted(free, hinted) is expected
