"""The media clock both sides keep: audio rate, video frame rate, and pixel boxes."""

from __future__ import annotations

from dataclasses import dataclass

FPS = 25
SAMPLE_RATE = 16_000
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 640 samples of 16 kHz audio per video frame


@dataclass(frozen=True, slots=True)
class Box:
    """A pixel rectangle in the full avatar frame: x, y of the top-left corner, then size."""

    x: int
    y: int
    w: int
    h: int


def frames_for_samples(n_samples: int) -> int:
    """How many video frames cover `n_samples` of 16 kHz audio (a partial frame counts)."""
    return -(-n_samples // SAMPLES_PER_FRAME)
