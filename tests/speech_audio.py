"""Test speech made by espeak-ng, as 16 kHz mono int16 samples."""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np


def espeak_pcm16(
    text: str,
    *,
    voice: str = "en-us",
    rate: int = 16_000,
    silence_before: float = 0.0,
    silence_after: float = 0.0,
) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        out = Path(tmp) / "out.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
        subprocess.run(
            ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out)], check=True
        )
        with wave.open(str(out)) as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    pad = lambda seconds: np.zeros(int(seconds * rate), dtype=np.int16)  # noqa: E731
    return np.concatenate([pad(silence_before), samples, pad(silence_after)])
