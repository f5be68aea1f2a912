"""The neural voice in this process: the packaged en_US-joe-medium model, really synthesizing."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contracts.phonemes import PhonemeSpan
from conversation.tts import piper as piper_module
from conversation.tts.base import OUTPUT_RATE, TtsError, TtsErrorKind, phonemes_of
from conversation.tts.pcm import MAX_BLOCK
from conversation.tts.piper import PiperTts, load_voice, speakable
from conversation.tts.voices import VoiceInfo
from tests.conversation.tts.conftest import drop_voice, timed_speech

SENTENCE = "Your parcel left our warehouse this morning, and it will arrive tomorrow."
THREE = "Thank you for waiting. Your refund is on its way. Is there anything else?"


def piper(voice: VoiceInfo) -> PiperTts:
    assert voice.model_path is not None
    return PiperTts(voice.model_path, voice.config_path)


async def collect(tts: PiperTts, text: str = SENTENCE) -> list[np.ndarray]:
    return [b async for b in tts.synthesize(text, voice="", language="en")]


class CountingSession:
    """Spies on the onnxruntime session of the process's voice: which thread runs it, how often."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.threads: list[str] = []
        self.ended: list[str] = []  # "done", or the error a run ended with

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.current_thread().name)
        try:
            result = self.session.run(*args, **kwargs)
        except Exception as error:
            self.ended.append(type(error).__name__)
            raise
        self.ended.append("done")
        return result


@pytest.fixture
def spy(joe: VoiceInfo, monkeypatch: pytest.MonkeyPatch) -> CountingSession:
    voice = piper(joe).load()
    counting = CountingSession(voice.session)
    monkeypatch.setattr(voice, "session", counting)
    return counting


async def test_the_packaged_voice_speaks_a_sentence_as_16k_int16(joe: VoiceInfo) -> None:
    blocks = await collect(piper(joe))

    audio = np.concatenate(blocks)
    assert joe.sample_rate == 22050 and audio.dtype == np.int16
    assert all(b.ndim == 1 and b.size <= MAX_BLOCK for b in blocks)
    words = len(SENTENCE.split())
    assert 0.15 * words < audio.size / OUTPUT_RATE < 0.8 * words  # speech, not a beep
    rms = np.sqrt(np.mean(audio.astype(np.float64) ** 2))
    assert 500 < rms < 20000 and np.abs(audio).max() < 32767


async def test_the_model_loads_once_per_process(joe: VoiceInfo) -> None:
    assert piper(joe).load() is piper(joe).load()
    assert joe.model_path is not None
    assert load_voice(joe.model_path) is piper(joe).load()


async def test_synthesis_runs_in_the_pool_and_streams_sentence_by_sentence(
    joe: VoiceInfo, spy: CountingSession
) -> None:
    blocks = piper(joe).synthesize(THREE, voice="", language="en")

    await anext(blocks)
    assert len(spy.threads) == 1  # the first sentence is out before the second is made
    rest = [b async for b in blocks]

    assert rest and len(spy.threads) == 3
    assert all(name.startswith("piper") for name in spy.threads)
    assert threading.current_thread().name not in spy.threads


async def test_cancelling_stops_asking_for_more_sentences(
    joe: VoiceInfo, spy: CountingSession
) -> None:
    text = " ".join(f"This is sentence number {n} of a long answer." for n in range(8))
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in piper(joe).synthesize(text, voice="", language="en"):
            first.set()
            await asyncio.sleep(3600)  # a consumer that parks while it holds a block

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.5)  # time enough for a (wrong) next sentence to start

    assert len(spy.threads) == 1  # nothing is made ahead of the consumer


async def test_a_barge_in_stops_the_sentence_being_computed(
    joe: VoiceInfo, spy: CountingSession
) -> None:
    # One sentence of about a minute of speech: seconds of computing, no sentence break.
    text = " ".join(["we will check the parcel and call you back"] * 20) + "."
    task = asyncio.create_task(collect(piper(joe), text))
    while not spy.threads:
        await asyncio.sleep(0.01)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(30):
        while not spy.ended:
            await asyncio.sleep(0.01)

    assert spy.ended == ["Fail"]  # onnxruntime terminated the run: it did not finish


async def test_text_is_read_as_words_never_as_phoneme_input(joe: VoiceInfo) -> None:
    assert speakable("say [[h@loU]]\x00 now\x1b\n please") == "say [ [h@loU]] now please"
    assert await collect(piper(joe), "  \x00\x07 \n") == []
    assert await collect(piper(joe), "Say [[h@loU]] now [[")  # spoken as words, no crash
    assert await collect(piper(joe), "[[ ]] [[") == []  # nothing to say


async def test_a_corrupt_model_is_a_bad_voice(joe: VoiceInfo, tmp_path: Path) -> None:
    model = drop_voice(tmp_path, joe, "en_US-broken-medium", corrupt=True)

    with pytest.raises(TtsError) as caught:
        await collect(PiperTts(model))
    with pytest.raises(TtsError) as again:  # remembered: no second attempt at every sentence
        PiperTts(model).load()

    assert caught.value.kind is again.value.kind is TtsErrorKind.BAD_VOICE
    assert "broken" in str(caught.value)


def test_a_voice_without_a_usable_config_is_a_bad_voice(tmp_path: Path) -> None:
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"x")
    with pytest.raises(TtsError) as missing:
        PiperTts(model)
    Path(f"{model}.json").write_text('{"audio": {"sample_rate": "fast"}}')
    with pytest.raises(TtsError) as bad_rate:
        PiperTts(model)
    with pytest.raises(TtsError) as no_model:
        PiperTts(tmp_path / "absent.onnx")

    kinds = {missing.value.kind, bad_rate.value.kind, no_model.value.kind}
    assert kinds == {TtsErrorKind.BAD_VOICE}


async def test_the_voice_says_when_each_phoneme_is_spoken(joe: VoiceInfo) -> None:
    """Each block carries the phonemes that start in it or later (never earlier ones), in
    order, on the 16 kHz timeline of the whole text, covering its speech."""
    blocks = await collect(piper(joe), "Maybe we can meet on Monday. Thank you for waiting.")
    _, spans = timed_speech(blocks)  # two sentences

    assert len(spans) > 30
    assert joe.config_path is not None
    symbols = set(json.loads(joe.config_path.read_text())["phoneme_id_map"])
    assert all(set(span.ipa) <= symbols for span in spans)  # the voice's own IPA symbols
    sounds = [span.ipa.strip("ˈˌː") for span in spans]
    assert sounds[0] == "m" and sounds.count("m") >= 3 and {"b", "θ", "w"} <= set(sounds)


async def test_without_the_onnx_package_the_voice_speaks_without_timings(
    joe: VoiceInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` fails, as where it is absent
    monkeypatch.setattr(piper_module, "_unaligned_warned", False)
    assert joe.model_path is not None and joe.config_path is not None
    blocks = []
    with caplog.at_level(logging.WARNING, logger="conversation.tts.piper"):
        for name in ("en_US-plain-medium", "en_US-other-medium"):  # two loads, a fresh model each
            model = tmp_path / f"{name}.onnx"
            shutil.copyfile(joe.model_path, model)
            shutil.copyfile(joe.config_path, f"{model}.json")
            blocks += await collect(PiperTts(model), "Maybe tomorrow.")

    assert np.concatenate(blocks).size > 0.5 * OUTPUT_RATE  # it speaks
    assert not any(phonemes_of(block) for block in blocks)
    warned = [r for r in caplog.records if "no phoneme timings" in r.getMessage()]
    assert len(warned) == 1 and "onnx package is not installed" in warned[0].getMessage()


def test_stress_and_length_marks_join_their_sounds_and_pauses_are_left_out() -> None:
    """Piper's alignment of "Hi, ma:" as the voice gives it: ids per symbol, samples each."""
    from piper.voice import AudioChunk, PhonemeAlignment

    symbols = [("^", 100), ("h", 200), ("ˈ", 50), ("a", 300), ("ɪ", 100), (",", 400), (" ", 300)]
    symbols += [("m", 150), ("ˈ", 50), ("ɑ", 250), ("ː", 100), (" ", 80), ("!", 200), ("$", 20)]
    total = sum(n for _, n in symbols)
    chunk = AudioChunk(
        sample_rate=22050,
        sample_width=2,
        sample_channels=1,
        audio_float_array=np.zeros(total, np.float32),
        phonemes=[s for s, _ in symbols[1:-1]],
        phoneme_ids=[],
        phoneme_alignments=[PhonemeAlignment(s, [], n) for s, n in symbols],
    )
    assert piper_module.phoneme_spans(chunk) == (
        PhonemeSpan("h", 100, 300),
        PhonemeSpan("ˈa", 300, 650),  # the stress mark's time is the vowel's
        PhonemeSpan("ɪ", 650, 750),  # the comma and the pause after it: no span
        PhonemeSpan("m", 1450, 1600),
        PhonemeSpan("ˈɑː", 1600, 2080),  # the length mark and the word's gap go on the vowel
    )
    short = AudioChunk(**{**chunk.__dict__, "audio_float_array": np.zeros(total - 1, np.float32)})
    assert piper_module.phoneme_spans(short) == ()  # alignments that do not add up: none
