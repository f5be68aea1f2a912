from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from conversation.voice.vad import (
    SAMPLE_RATE,
    WINDOW,
    WINDOW_MS,
    SileroProbability,
    SpeechEnded,
    SpeechPaused,
    SpeechStarted,
    VadEvent,
    VoiceActivity,
)
from tests.speech_audio import espeak_pcm16

MS = SAMPLE_RATE // 1000  # samples per millisecond


class ScriptedProbability:
    """A fake model: one scripted probability per window, then silence."""

    def __init__(self, script: Sequence[float]) -> None:
        self.script = list(script)
        self.calls = 0

    def __call__(self, window: np.ndarray) -> float:
        assert window.shape == (WINDOW,) and window.dtype == np.float32
        self.calls += 1
        return self.script[self.calls - 1] if self.calls <= len(self.script) else 0.0


def scripted(script: Sequence[float]) -> Callable[[], ScriptedProbability]:
    return lambda: ScriptedProbability(script)


def feed(vad: VoiceActivity, pcm: np.ndarray, block: int) -> list[VadEvent]:
    events: list[VadEvent] = []
    for offset in range(0, len(pcm), block):
        events += vad.push(pcm[offset : offset + block])
    return events


def ramp(windows: int) -> np.ndarray:
    """Distinct samples, so the utterance audio can be located in the stream."""
    return (np.arange(windows * WINDOW) % 30_000).astype(np.int16)


# --- hysteresis, scripted ----------------------------------------------------------------


def test_hysteresis_starts_at_threshold_and_holds_down_to_neg_threshold() -> None:
    script = [0.1] * 5 + [0.6] + [0.4] * 10 + [0.1] * 20
    pcm = ramp(len(script))
    events = feed(VoiceActivity(scripted(script)), pcm, 320)
    assert events == [
        SpeechStarted(at_ms=5 * WINDOW_MS, decision_ms=7 * WINDOW_MS),  # 7 windows >= 200 ms
        SpeechEnded(at_ms=16 * WINDOW_MS, audio=pcm, decision_ms=10 * WINDOW_MS),
    ]
    ended = events[1]
    assert isinstance(ended, SpeechEnded)
    # 150 ms of pad each side, cut from the stream at the exact samples.
    lo, hi = 5 * WINDOW - 150 * MS, 16 * WINDOW + 150 * MS
    np.testing.assert_array_equal(ended.audio, pcm[lo:hi])


def test_the_lead_before_an_utterance_never_reaches_into_the_one_before() -> None:
    """500 ms of lead before the start, 150 ms of pad after the end; a second utterance that
    starts 10 windows after the first ended takes its lead only from after that end."""
    script = [0.1] * 20 + [0.9] * 8 + [0.1] * 10 + [0.9] * 8 + [0.1] * 12
    pcm = ramp(len(script))
    vad = VoiceActivity(scripted(script), end_silence_ms=300, lead_ms=500)
    ended = [e for e in feed(vad, pcm, 320) if isinstance(e, SpeechEnded)]

    assert [e.at_ms for e in ended] == [28 * WINDOW_MS, 46 * WINDOW_MS]
    first, second = ended
    np.testing.assert_array_equal(first.audio, pcm[20 * WINDOW - 500 * MS : 28 * WINDOW + 150 * MS])
    np.testing.assert_array_equal(second.audio, pcm[28 * WINDOW : 46 * WINDOW + 150 * MS])


def test_below_threshold_never_starts_and_short_bursts_give_no_event() -> None:
    assert feed(VoiceActivity(scripted([0.45] * 40)), ramp(40), 512) == []
    # 6 windows (192 ms) < min_speech_ms, twice, with a short gap: not speech.
    script = [0.9] * 6 + [0.1] * 2 + [0.9] * 6 + [0.1] * 30
    assert feed(VoiceActivity(scripted(script)), ramp(len(script)), 512) == []


def test_short_dips_do_not_end_the_utterance() -> None:
    script = [0.9] * 10 + ([0.1] * 9 + [0.9] * 3) * 3 + [0.1] * 10
    events = feed(VoiceActivity(scripted(script)), ramp(len(script)), 640)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    assert events[1].at_ms == (len(script) - 10) * WINDOW_MS


def test_max_utterance_ends_forcibly_then_starts_again() -> None:
    vad = VoiceActivity(scripted([0.9] * 100), max_utterance_s=1.0, pad_ms=0)
    events = feed(vad, ramp(100), 960)
    first_end = events[1]
    assert isinstance(first_end, SpeechEnded)
    assert first_end.decision_ms == 0
    assert first_end.at_ms == 31 * WINDOW_MS  # first window count reaching 1 s
    assert len(first_end.audio) == 31 * WINDOW
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded] * 3 + [SpeechStarted]
    assert events[2].at_ms == first_end.at_ms
    # Memory stays bounded: at most one utterance plus its trailing silence is buffered.
    assert sum(len(w) for w in vad._windows) <= (31 + 10) * WINDOW


def test_leftover_samples_carry_over_between_pushes() -> None:
    script = [0.0] * 10 + [0.9] * 20
    pcm = ramp(len(script) + 20)
    whole = feed(VoiceActivity(scripted(script)), pcm, len(pcm))
    odd = feed(VoiceActivity(scripted(script)), pcm, 7)
    assert whole == odd and len(whole) == 2
    np.testing.assert_array_equal(whole[1].audio, odd[1].audio)  # type: ignore[union-attr]


def test_reset_forgets_a_started_utterance_and_the_model_state() -> None:
    vad = VoiceActivity(scripted([0.9] * 20))
    assert [type(e) for e in feed(vad, ramp(10), 512)] == [SpeechStarted]
    vad.reset()
    # A fresh scripted stream: speech again from the first window.
    events = feed(vad, ramp(30), 512)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    assert events[0].at_ms == 0


def test_a_pause_announces_the_utterance_that_ends_there_if_no_speech_resumes() -> None:
    script = [0.1] * 5 + [0.9] * 12 + [0.1] * 20
    pcm = ramp(len(script))
    events = feed(VoiceActivity(scripted(script), pause_ms=150), pcm, 320)
    assert [type(e) for e in events] == [SpeechStarted, SpeechPaused, SpeechEnded]
    paused, ended = events[1], events[2]
    assert isinstance(paused, SpeechPaused) and isinstance(ended, SpeechEnded)
    assert paused.at_ms == ended.at_ms == 17 * WINDOW_MS
    np.testing.assert_array_equal(paused.audio, ended.audio)  # the pad after it is heard
    # Announced after 5 silent windows (160 ms, the end pad), the end after 10 (320 ms).
    assert feed(VoiceActivity(scripted(script), pause_ms=150), pcm[: 22 * WINDOW], 320)[-1] == (
        paused
    )


def test_speech_resuming_after_a_pause_gives_a_new_pause_for_the_longer_utterance() -> None:
    script = [0.9] * 10 + [0.1] * 6 + [0.9] * 8 + [0.1] * 20
    events = feed(VoiceActivity(scripted(script), pause_ms=150), ramp(len(script)), 512)
    assert [type(e) for e in events] == [SpeechStarted, SpeechPaused, SpeechPaused, SpeechEnded]
    first, second, ended = events[1:]
    assert first.at_ms == 10 * WINDOW_MS  # the pause that speech broke
    assert second.at_ms == ended.at_ms == 24 * WINDOW_MS
    assert len(first.audio) < len(second.audio) == len(ended.audio)  # type: ignore[union-attr]


def test_no_pause_events_unless_asked_or_when_the_end_comes_first() -> None:
    script = [0.9] * 10 + [0.1] * 20
    pcm = ramp(len(script))
    assert SpeechPaused not in [type(e) for e in feed(VoiceActivity(scripted(script)), pcm, 512)]
    late = VoiceActivity(scripted(script), pause_ms=300, end_silence_ms=300)
    assert [type(e) for e in feed(late, pcm, 512)] == [SpeechStarted, SpeechEnded]


def test_rejects_audio_that_is_not_int16_mono() -> None:
    vad = VoiceActivity(scripted([]))
    with pytest.raises(ValueError):
        vad.push(np.zeros(320, dtype=np.float32))
    with pytest.raises(ValueError):
        vad.push(np.zeros((320, 2), dtype=np.int16))


# --- real audio through Silero -----------------------------------------------------------


@functools.cache
def sentence() -> np.ndarray:
    """An espeak-ng question, trimmed to the spoken part so its bounds are the true ones."""
    pcm = espeak_pcm16("Hello, what are your opening hours on Sunday?")
    loud = np.flatnonzero(np.abs(pcm) > 300)
    return pcm[loud[0] : loud[-1] + 1]


def with_noise(*parts: np.ndarray) -> np.ndarray:
    pcm = np.concatenate(parts).astype(np.float64)
    pcm += np.random.default_rng(5).normal(0, 50, len(pcm))
    return np.clip(pcm, -32768, 32767).astype(np.int16)


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms * MS, dtype=np.int16)


@pytest.fixture(scope="module")
def silero() -> SileroProbability:
    return SileroProbability()


def silero_events(silero: SileroProbability, pcm: np.ndarray, block_ms: int) -> list[VadEvent]:
    return feed(VoiceActivity(silero.new_stream), pcm, block_ms * MS)


def test_one_sentence_gives_one_utterance(silero: SileroProbability) -> None:
    speech = sentence()
    pcm = with_noise(silence(1000), speech, silence(1000))
    true_end_ms = 1000 + len(speech) / MS
    events = silero_events(silero, pcm, 20)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    started, ended = events
    assert isinstance(ended, SpeechEnded)
    assert abs(started.at_ms - 1000) <= 150
    assert 200 <= started.decision_ms <= 200 + WINDOW_MS
    assert abs(ended.at_ms - true_end_ms) <= 200
    assert 300 <= ended.decision_ms <= 300 + WINDOW_MS
    # The utterance is the stream cut at start - pad .. end + pad, and holds all the speech.
    lo, hi = int(started.at_ms - 150) * MS, int(ended.at_ms + 150) * MS
    np.testing.assert_array_equal(ended.audio, pcm[lo:hi])
    assert lo <= 1000 * MS and hi >= true_end_ms * MS


def test_the_products_endpointer_gives_the_recognizer_all_the_silence_heard_at_the_pause() -> None:
    from conversation.voice import models

    speech = sentence()
    pcm = with_noise(silence(1000), speech, silence(2000))
    events = feed(models.voice_activity(), pcm, 20 * MS)
    started, paused = events[0], events[1]
    assert isinstance(started, SpeechStarted) and isinstance(paused, SpeechPaused)
    # The lead before the start, and after the end every sample heard when the pause is told
    # (a fading last word goes on past Silero's end of speech): the pause costs no waiting.
    lo = int(started.at_ms - models.LEAD_MS) * MS
    hi = int(paused.at_ms + models.PAUSE_MS) * MS
    np.testing.assert_array_equal(paused.audio, pcm[lo:hi])


@pytest.mark.parametrize(
    "burst",
    [
        pytest.param(
            lambda: 20_000 * np.sin(2 * np.pi * 1000 * np.arange(100 * MS) / SAMPLE_RATE), id="tone"
        ),
        pytest.param(lambda: np.random.default_rng(1).normal(0, 8000, 100 * MS), id="noise"),
        pytest.param(lambda: sentence()[500 * MS : 600 * MS], id="speech-slice"),
    ],
)
def test_100_ms_burst_gives_no_event(
    silero: SileroProbability, burst: Callable[[], np.ndarray]
) -> None:
    click = np.clip(burst(), -32768, 32767).astype(np.int16)
    pcm = with_noise(silence(1000), click, silence(1000))
    assert silero_events(silero, pcm, 20) == []


@pytest.mark.parametrize(("gap_ms", "utterances"), [(1000, 2), (150, 1)])
def test_two_sentences_split_only_by_a_long_pause(
    silero: SileroProbability, gap_ms: int, utterances: int
) -> None:
    pcm = with_noise(silence(1000), sentence(), silence(gap_ms), sentence(), silence(1000))
    events = silero_events(silero, pcm, 20)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded] * utterances


def test_block_size_does_not_change_the_events(silero: SileroProbability) -> None:
    pcm = with_noise(silence(1000), sentence(), silence(1000), sentence(), silence(1000))
    by_block = {ms: silero_events(silero, pcm, ms) for ms in (20, 32, 100)}
    reference = by_block[20]
    assert len(reference) == 4
    for events in by_block.values():
        assert [type(e) for e in events] == [type(e) for e in reference]
        for event, expected in zip(events, reference, strict=True):
            assert abs(event.at_ms - expected.at_ms) <= WINDOW_MS


def test_streams_sharing_the_model_keep_their_own_state(silero: SileroProbability) -> None:
    pcm = with_noise(silence(500), sentence(), silence(1000))
    alone = silero_events(silero, pcm, 20)
    a, b = VoiceActivity(silero.new_stream), VoiceActivity(silero.new_stream)
    interleaved: list[VadEvent] = []
    quiet = with_noise(silence(len(pcm) // MS))
    for offset in range(0, len(pcm), 20 * MS):
        interleaved += a.push(pcm[offset : offset + 20 * MS])
        assert b.push(quiet[offset : offset + 20 * MS]) == []
    assert interleaved == alone


# --- ending at a pause the end-of-turn model judged complete ---------------------------------


def test_an_utterance_ends_at_its_pause_when_asked_while_still_paused() -> None:
    script = [0.9] * 20 + [0.1] * 10
    vad = VoiceActivity(scripted(script), end_silence_ms=1500, pause_ms=200)
    events = feed(vad, ramp(len(script)), WINDOW)
    (started, paused) = events
    assert isinstance(started, SpeechStarted) and isinstance(paused, SpeechPaused)
    assert not vad.hearing_speech

    ended = vad.end_if_paused(paused.at_ms)

    assert isinstance(ended, SpeechEnded)
    assert ended.at_ms == paused.at_ms == 20 * WINDOW_MS
    assert ended.decision_ms == 10 * WINDOW_MS  # the silence heard so far
    assert np.array_equal(ended.audio, paused.audio)
    assert vad.end_if_paused(paused.at_ms) is None  # it ended once
    assert feed(vad, ramp(60), WINDOW) == []  # and the long limit does not end it again


def test_speech_resumed_since_the_pause_is_not_ended() -> None:
    script = [0.9] * 20 + [0.1] * 8 + [0.9] * 3
    vad = VoiceActivity(scripted(script), end_silence_ms=1500, pause_ms=200)
    events = feed(vad, ramp(len(script)), WINDOW)
    paused = events[-1]
    assert isinstance(paused, SpeechPaused)
    assert vad.hearing_speech

    assert vad.end_if_paused(paused.at_ms) is None
    assert vad.end_if_paused(31 * WINDOW_MS) is None  # no pause at all now


def test_hearing_speech_includes_an_unconfirmed_sound() -> None:
    vad = VoiceActivity(scripted([0.1] * 3 + [0.9]), min_speech_ms=200)
    feed(vad, ramp(3), WINDOW)
    assert not vad.hearing_speech
    feed(vad, ramp(1), WINDOW)
    assert vad.hearing_speech  # one window: not speech yet, but an answer should wait
