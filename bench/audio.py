"""Speech for the benchmark and the tests: espeak-ng at 16 kHz, with a quiet room's noise."""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE = 16_000
AUDIBLE = 300  # of 32768: about 40 dB under full scale, well above the added room noise


def espeak_pcm16(
    text: str,
    *,
    voice: str = "en-us",
    rate: int = RATE,
    speed: int | None = None,
    silence_before: float = 0.0,
    silence_after: float = 0.0,
) -> np.ndarray:
    """The sentence as mono int16 samples at `rate`, with silence before and after; `speed` in
    words per minute (espeak-ng's default is 175)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        pace = ["-s", str(speed)] if speed else []
        subprocess.run(["espeak-ng", "-v", voice, *pace, "-w", str(raw), text], check=True)
        subprocess.run(
            # -R: the same dither on every run, so the same text gives the same samples.
            ["sox", "-R", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out)],
            check=True,
        )
        with wave.open(str(out)) as recording:
            samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype=np.int16)
    pad = lambda seconds: np.zeros(int(seconds * rate), dtype=np.int16)  # noqa: E731
    return np.concatenate([pad(silence_before), samples, pad(silence_after)])


def with_noise(audio: np.ndarray, seed: int = 1) -> np.ndarray:
    """A quiet room: Gaussian noise about 58 dB under full scale (pocketsphinx needs some)."""
    noise = np.random.default_rng(seed).normal(0, 40, len(audio))
    return np.clip(audio + noise, -32768, 32767).astype(np.int16)


def espeak_recording(
    text: str, *, silence_before: float, silence_after: float, voice: str = "en-us"
) -> tuple[np.ndarray, float]:
    """(int16 samples with noise, seconds from the start of the audio to the end of speech).

    The end of speech is the last audible sample: espeak-ng's file goes on with about 0.3 s of
    silence of its own, which belongs to the listener's wait, not to the question.
    """
    audio = espeak_pcm16(
        text, voice=voice, silence_before=silence_before, silence_after=silence_after
    )
    audible = np.flatnonzero(np.abs(audio) > AUDIBLE)
    return with_noise(audio), (audible[-1] + 1) / RATE
