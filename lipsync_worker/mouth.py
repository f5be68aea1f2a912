"""Audio -> per-frame mouth shape (openness 0..1, width -1 rounded .. +1 spread). Pure numpy.

Stateless across chunks by design: the smoother first runs over the chunk's left context (the
turn's audio just before it), so a chunked render equals a whole one at every border.
"""

from __future__ import annotations

import math

import numpy as np

from lipsync_worker.contract import SAMPLE_RATE, SAMPLES_PER_FRAME

GATE_DBFS = -46.0  # quieter than this is silence: the mouth closes
FULL_DBFS = -14.0  # this loud opens the mouth fully
ATTACK = 1 - math.exp(-40 / 30)  # per 40 ms frame: opens with a ~30 ms time constant
RELEASE = 1 - math.exp(-40 / 70)  # closes with ~70 ms
CLOSED = 0.04  # below this the frame is drawn exactly as the idle frame


def frame_features(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: target openness from loudness, target width from the spectral centroid."""
    n = -(-len(audio) // SAMPLES_PER_FRAME)
    padded = np.zeros(n * SAMPLES_PER_FRAME, np.float32)
    padded[: len(audio)] = audio
    frames = padded.reshape(n, SAMPLES_PER_FRAME) / 32768.0
    rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-12)
    db = 20 * np.log10(rms)
    openness = np.clip((db - GATE_DBFS) / (FULL_DBFS - GATE_DBFS), 0.0, 1.0)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(SAMPLES_PER_FRAME), axis=1))
    freqs = np.fft.rfftfreq(SAMPLES_PER_FRAME, 1 / SAMPLE_RATE)
    band = (freqs > 150) & (freqs < 5000)
    power = spectrum[:, band] + 1e-9
    centroid = (power * freqs[band]).sum(1) / power.sum(1)
    width = np.clip((centroid - 1400.0) / 1000.0, -1.0, 1.0) * (openness > 0)
    return openness.astype(np.float32), width.astype(np.float32)


def mouth_shapes(audio: np.ndarray, left_audio: np.ndarray | None = None) -> np.ndarray:
    """(frames, 2) float32 [openness, width] for `audio`, warmed on `left_audio`."""
    context = np.zeros(0, np.int16) if left_audio is None else left_audio
    context = context[len(context) % SAMPLES_PER_FRAME :]  # whole frames, newest kept
    joined = np.concatenate([context, audio]) if len(context) else audio
    target_open, target_width = frame_features(joined)
    out = np.empty((len(target_open), 2), np.float32)
    level = width = 0.0
    for i, (goal, spread) in enumerate(zip(target_open, target_width, strict=True)):
        level += (ATTACK if goal > level else RELEASE) * (goal - level)
        width += 0.5 * (spread - width)
        out[i] = (level if level >= CLOSED else 0.0, width if level >= CLOSED else 0.0)
    return out[len(context) // SAMPLES_PER_FRAME :]
