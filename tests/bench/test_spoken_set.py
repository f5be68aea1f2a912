"""The spoken test set: what it holds, and audio that is what its metadata says."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from avatars.demo_data import DEMO_FAQ
from bench.spoken_set import ACCENTS, RATE, SpokenItem, band_limited, pink_noise, spoken_set
from bench.wer import normalize_words

ITEMS = spoken_set()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spoken-set")


def first(**wanted: object) -> SpokenItem:
    """The first item whose fields (or traits, given as trait=True) are as wanted."""
    for item in ITEMS:
        fields = {**dataclasses.asdict(item), **{t: True for t in item.traits}}
        if all(fields.get(key, False) == value for key, value in wanted.items()):
            return item
    raise LookupError(wanted)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_the_set_is_stable_and_big_enough() -> None:
    assert len(ITEMS) >= 40 and sum(item.faq is not None for item in ITEMS) >= 40
    assert spoken_set() == ITEMS, "the set must not change between calls"
    assert len({item.name for item in ITEMS}) == len(ITEMS)
    assert len({item.digest for item in ITEMS}) == len(ITEMS)


def test_every_expected_entry_is_a_demo_faq_question_and_most_entries_are_asked() -> None:
    questions = {question for question, _, _ in DEMO_FAQ}
    expected = {item.faq for item in ITEMS if item.faq is not None}
    assert expected <= questions
    assert len(expected) == len(questions), "every entry is asked at least once"
    assert sum(item.faq is None for item in ITEMS) >= 8, "enough questions outside the FAQ"


def test_customers_paraphrase_rather_than_read_the_faq() -> None:
    written = {tuple(normalize_words(t)) for q, ps, _ in DEMO_FAQ for t in (q, *ps)}
    for item in ITEMS:
        for sentence in re.split(r"(?<=[.?!])\s+", item.text):
            assert tuple(normalize_words(sentence)) not in written, item.name


def test_every_english_accent_of_espeak_ng_is_heard() -> None:
    listing = subprocess.run(
        ["espeak-ng", "--voices=en"], capture_output=True, text=True, check=True
    ).stdout
    # The accents of espeak-ng's own voices; the mbrola ones need voice files of their own.
    accents = {line.split()[1] for line in listing.splitlines()[1:] if " gmw/" in line}
    voices = {item.voice for item in ITEMS}
    assert accents <= {voice.split("+")[0] for voice in voices} == set(ACCENTS)
    assert len(voices) >= 4


def test_the_hard_parts_are_all_there() -> None:
    def count(trait: str) -> int:
        return sum(trait in item.traits for item in ITEMS)

    for trait in ("filler", "greeting", "story", "number", "pause", "telephone"):
        assert count(trait) >= 4, trait
    assert any("$" in item.text for item in ITEMS)
    noisy = [item for item in ITEMS if item.snr_db is not None]
    assert len(noisy) == len(ITEMS) // 3
    assert all(10 <= item.snr_db <= 20 for item in noisy if item.snr_db is not None)
    pauses = [item.pause_ms for item in ITEMS if item.pause_ms]
    assert all(300 <= ms <= 700 for ms in pauses) and max(pauses) - min(pauses) >= 300
    assert all((item.pause_ms > 0) == (len(item.parts) == 2) for item in ITEMS)


def test_a_wav_is_16_khz_mono_int16_made_once_and_the_same_every_time(
    cache: Path, tmp_path: Path
) -> None:
    item = ITEMS[0]
    path = item.wav_path(cache)
    with wave.open(str(path)) as recording:
        assert (recording.getframerate(), recording.getnchannels()) == (RATE, 1)
        assert recording.getsampwidth() == 2
    made = path.stat().st_mtime_ns
    assert item.wav_path(cache).stat().st_mtime_ns == made, "a cached WAV is not made again"
    assert item.wav_path(tmp_path).read_bytes() == path.read_bytes(), "not deterministic"
    marks = item.marks(cache)
    samples = item.pcm(cache)
    assert 0 < marks.speech_start_s < marks.speech_end_s < len(samples) / RATE
    assert rms(samples[int(marks.speech_end_s * RATE) :]) < 100, "silence after the speech"


def test_another_parameter_is_another_wav(cache: Path) -> None:
    item = ITEMS[0]
    louder = dataclasses.replace(item, level=0.95)
    assert louder.digest != item.digest
    assert louder.wav_path(cache) != item.wav_path(cache)
    assert np.abs(louder.pcm(cache)).max() > np.abs(item.pcm(cache)).max()


def test_a_pause_is_silence_of_the_length_set_between_two_halves(cache: Path) -> None:
    item = first(pause=True, noise=False, telephone=False)
    marks, samples = item.marks(cache), item.pcm(cache)
    assert marks.pause_start_s is not None and marks.pause_end_s is not None
    assert marks.pause_end_s - marks.pause_start_s == pytest.approx(item.pause_ms / 1000, abs=1e-3)
    start, end = int(marks.pause_start_s * RATE), int(marks.pause_end_s * RATE)
    half, pause = int(0.2 * RATE), rms(samples[start:end])
    assert pause < 100, "a quiet room's noise only"
    assert rms(samples[start - half : start]) > 3 * pause, "speech right before the pause"
    assert rms(samples[end : end + half]) > 3 * pause, "and right after it"


def test_noise_is_at_the_snr_set(cache: Path) -> None:
    item = first(noise=True, telephone=False)
    assert item.snr_db is not None
    marks, samples = item.marks(cache), item.pcm(cache).astype(np.float64)
    start, end = int(marks.speech_start_s * RATE), int(marks.speech_end_s * RATE)
    noise = np.concatenate([samples[: start - 10], samples[end + 10 :]])
    # Speech and noise add up within the speech: subtract the noise's power to get the speech's.
    speech_power = np.mean(samples[start:end] ** 2) - np.mean(noise**2)
    measured = 10 * np.log10(speech_power / np.mean(noise**2))
    assert measured == pytest.approx(item.snr_db, abs=1.5)


def test_the_telephone_band_keeps_300_to_3400_hz(cache: Path) -> None:
    item = first(telephone=True)
    spectrum = np.abs(np.fft.rfft(item.pcm(cache).astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(item.pcm(cache)), 1 / RATE)
    inside = spectrum[(freqs > 400) & (freqs < 3300)].sum()
    assert spectrum[freqs < 200].sum() < inside * 1e-4
    assert spectrum[freqs > 3600].sum() < inside * 1e-4


def test_the_filters_do_what_they_say() -> None:
    rng = np.random.default_rng(3)
    noise = pink_noise(RATE * 2, rng)
    assert rms(noise) == pytest.approx(1.0)
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(len(noise), 1 / RATE)
    octave_low = spectrum[(freqs >= 250) & (freqs < 500)].sum()
    octave_high = spectrum[(freqs >= 2000) & (freqs < 4000)].sum()
    assert octave_low == pytest.approx(octave_high, rel=0.2), "pink: equal power per octave"
    tone = np.sin(2 * np.pi * 100 * np.arange(RATE) / RATE)
    assert rms(band_limited(tone, 300, 3400)) < 1e-3
    tone = np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE)
    assert rms(band_limited(tone, 300, 3400)) == pytest.approx(rms(tone), rel=1e-3)


def test_the_whole_set_renders(cache: Path) -> None:
    for item in ITEMS:
        samples, marks = item.pcm(cache), item.marks(cache)
        seconds = len(samples) / RATE
        assert 1.0 < seconds < 12.0, item.name
        assert marks.speech_end_s - marks.speech_start_s > 0.5, item.name
        assert np.abs(samples).max() > 3000, item.name
