"""Audio -> per-frame mouth shape: openness 0..1 and width -1 (rounded) .. +1 (spread). Pure numpy.

Stateless across chunks by design: the smoother first runs over the chunk's left context (the
turn's audio just before it), so a chunked render equals a whole one at every border. With a
second of context the smoother's memory of where it started has decayed below 1e-5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lipsync_worker.contract import SAMPLE_RATE, SAMPLES_PER_FRAME, frames_for_samples

FRAME_MS = 1000 * SAMPLES_PER_FRAME / SAMPLE_RATE
GATE_DBFS = -48.0  # quieter than this is silence (breath, room noise): the mouth closes
FULL_DBFS = -16.0  # this loud opens the mouth fully
ATTACK_MS = 30.0  # lips part fast on a syllable onset
RELEASE_MS = 80.0  # and close more slowly, as the jaw falls back
ATTACK = 1 - math.exp(-FRAME_MS / ATTACK_MS)
RELEASE = 1 - math.exp(-FRAME_MS / RELEASE_MS)
WIDTH_FOLLOW = 0.6  # width is a cue, not a jaw: smoothed lightly so it does not flicker
CLOSED = 0.04  # below this the frame is drawn exactly as the idle frame
# Spectral centroid of voiced speech: ~900 Hz for rounded vowels (oo, oh), ~2.2 kHz and up for
# spread ones and sibilants (ee, s). The width cue is the centroid's place on that scale.
ROUNDED_HZ = 900.0
SPREAD_HZ = 2300.0

_WINDOW = np.hanning(SAMPLES_PER_FRAME).astype(np.float32)
_FREQS = np.fft.rfftfreq(SAMPLES_PER_FRAME, 1 / SAMPLE_RATE)
_BAND = (_FREQS > 120) & (_FREQS < 6000)


@dataclass(frozen=True, slots=True)
class FrameFeatures:
    """Per-frame audio cues, before smoothing."""

    loudness_db: np.ndarray  # RMS in dBFS
    openness: np.ndarray  # target openness 0..1 (0 under the noise gate)
    width: np.ndarray  # target width -1..1 (0 under the noise gate)


def _frames(audio: np.ndarray) -> np.ndarray:
    """(frames, 640) float32 in -1..1; a partial last frame is zero-padded."""
    n = frames_for_samples(len(audio))
    padded = np.zeros(n * SAMPLES_PER_FRAME, np.float32)
    padded[: len(audio)] = np.asarray(audio, np.float32) / 32768.0
    return padded.reshape(n, SAMPLES_PER_FRAME)


def frame_features(audio: np.ndarray) -> FrameFeatures:
    """Loudness, target openness and target width for each 40 ms frame of int16 16 kHz audio."""
    frames = _frames(audio)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms)
    voiced = db > GATE_DBFS
    # Loudness in dB is what the eye reads as effort; a soft knee keeps quiet syllables visible.
    level = np.clip((db - GATE_DBFS) / (FULL_DBFS - GATE_DBFS), 0.0, 1.0)
    openness = np.where(voiced, level**0.8, 0.0)
    spectrum = np.abs(np.fft.rfft(frames * _WINDOW, axis=1))[:, _BAND] ** 2 + 1e-12
    centroid = (spectrum * _FREQS[_BAND]).sum(1) / spectrum.sum(1)
    position = (np.log(centroid) - math.log(ROUNDED_HZ)) / (
        math.log(SPREAD_HZ) - math.log(ROUNDED_HZ)
    )
    width = np.where(voiced, np.clip(2 * position - 1, -1.0, 1.0), 0.0)
    return FrameFeatures(
        db.astype(np.float32), openness.astype(np.float32), width.astype(np.float32)
    )


def smooth(openness: np.ndarray, width: np.ndarray) -> np.ndarray:
    """(frames, 2) float32 [openness, width]: fast attack, slower release, snapped shut near 0."""
    out = np.empty((len(openness), 2), np.float32)
    level = spread = 0.0
    for i in range(len(openness)):
        goal = float(openness[i])
        level += (ATTACK if goal > level else RELEASE) * (goal - level)
        spread += WIDTH_FOLLOW * (float(width[i]) - spread)
        if level >= CLOSED:
            out[i] = (level, spread)
        else:
            out[i] = (0.0, 0.0)
    return out


def mouth_shapes(audio: np.ndarray, left_audio: np.ndarray | None = None) -> np.ndarray:
    """(frames, 2) float32 [openness, width] for `audio`, the smoother warmed on `left_audio`.

    One row per frame of `audio` (a partial last frame counts). `left_audio` is cut to whole
    frames counted back from the chunk border, so context frames line up with the turn's.
    """
    context = np.zeros(0, np.int16) if left_audio is None else np.asarray(left_audio)
    context = context[len(context) % SAMPLES_PER_FRAME :]
    features = frame_features(np.concatenate([context, audio]) if len(context) else audio)
    shapes = smooth(features.openness, features.width)
    return shapes[len(context) // SAMPLES_PER_FRAME :]
