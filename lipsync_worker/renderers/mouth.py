"""Speech -> per-frame mouth shape: openness 0..1 and width -1 (rounded) .. +1 (wide). Pure numpy.

Two sources of targets: the phonemes, when the TTS reported them (closed for m b p, open for
a, wide for i e, rounded for o u, and the rest in between), shaped by the loudness of each
frame; otherwise the audio alone, loudness for the opening and the spectral centroid for the
width. A smoother then blends each target into its neighbours (co-articulation): lips part fast
on an onset, close more slowly, and shut fast for m b p; the width moves without flicker.
In silence the mouth returns to `rest` (the source's own openness) and the frame is the idle
frame exactly.

Stateless across chunks by design: the smoother first runs over the chunk's left context (the
turn's audio just before it), so a chunked render equals a whole one at every border. With a
second of context the smoother's memory of where it started has decayed below 1e-5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contracts.phonemes import PhonemeSpan
from lipsync_worker.contract import SAMPLE_RATE, SAMPLES_PER_FRAME, frames_for_samples

FRAME_MS = 1000 * SAMPLES_PER_FRAME / SAMPLE_RATE
GATE_DBFS = -48.0  # quieter than this is silence (breath, room noise): the mouth goes to rest
FULL_DBFS = -16.0  # this loud opens the mouth fully
ATTACK_MS = 30.0  # lips part fast on a syllable onset
RELEASE_MS = 80.0  # and close more slowly, as the jaw falls back
SHUT_MS = 25.0  # but shut fast for m, b, p: the lips must meet inside the consonant
ATTACK = 1 - math.exp(-FRAME_MS / ATTACK_MS)
RELEASE = 1 - math.exp(-FRAME_MS / RELEASE_MS)
SHUT = 1 - math.exp(-FRAME_MS / SHUT_MS)
WIDTH_FOLLOW = 0.4  # width is a cue, not a jaw: smoothed so it does not flicker
AUDIO_WIDTH = 0.7  # the spectrum is weaker evidence of the lips' width than a phoneme
AUDIO_OPEN = 0.75  # loudness alone opens the mouth to at most this
CLOSED = 0.04  # this near rest (and no width) the frame is drawn exactly as the idle frame
# Spectral centroid of voiced speech: low for rounded vowels (oo, oh), ~2.5 kHz and up for
# spread ones and sibilants (ee, s). The width cue is the centroid's place on that scale.
ROUNDED_HZ = 600.0
SPREAD_HZ = 2600.0

_WINDOW = np.hanning(SAMPLES_PER_FRAME).astype(np.float32)
_FREQS = np.fft.rfftfreq(SAMPLES_PER_FRAME, 1 / SAMPLE_RATE)
_BAND = (_FREQS > 120) & (_FREQS < 6000)

# Mouth targets by phoneme (IPA, stress and length marks removed): openness, width, shut.
_CLASSES: tuple[tuple[str, float, float, bool], ...] = (
    ("mbp", 0.0, 0.0, True),  # lips together
    ("fv", 0.12, 0.3, False),  # lower lip to the upper teeth
    ("aɑæʌɐ", 1.0, 0.0, False),  # open
    ("ɔɒo", 0.55, -1.0, False),  # rounded, fairly open
    ("uʊwyɯβɸ", 0.3, -1.0, False),  # rounded, nearly closed (Japanese u, w and f: compressed)
    ("ʃʒ", 0.25, -0.6, False),
    ("eɛæ", 0.55, 0.8, False),  # wide
    ("iɪj", 0.3, 1.0, False),
    ("əɚɜɨ", 0.45, 0.0, False),
    ("szθð", 0.15, 0.6, False),
)
_CONSONANT = (0.25, 0.2, False)  # t d n l k g r h ...: the tongue works, the jaw half shut


@dataclass(frozen=True, slots=True)
class FrameFeatures:
    """Per-frame audio cues, before smoothing."""

    loudness_db: np.ndarray  # RMS in dBFS
    openness: np.ndarray  # target openness 0..1 (0 under the noise gate)
    width: np.ndarray  # target width -1..1 (0 under the noise gate)

    @property
    def voiced(self) -> np.ndarray:
        return self.loudness_db > GATE_DBFS


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
    # Loud speech opens the mouth about two thirds of the widest (a shout, or a sung "a", is
    # wider); quiet speech much less: the knee keeps most syllables a modest opening.
    openness = np.where(voiced, AUDIO_OPEN * level**1.3, 0.0)
    spectrum = np.abs(np.fft.rfft(frames * _WINDOW, axis=1))[:, _BAND] ** 2 + 1e-12
    centroid = (spectrum * _FREQS[_BAND]).sum(1) / spectrum.sum(1)
    position = (np.log(centroid) - math.log(ROUNDED_HZ)) / (
        math.log(SPREAD_HZ) - math.log(ROUNDED_HZ)
    )
    width = np.where(voiced, AUDIO_WIDTH * np.clip(2 * position - 1, -1.0, 1.0), 0.0)
    return FrameFeatures(
        db.astype(np.float32), openness.astype(np.float32), width.astype(np.float32)
    )


def phoneme_target(ipa: str) -> tuple[float, float, bool] | None:
    """(openness, width, shut) for one phoneme; None for a pause."""
    symbol = ipa.strip().replace("ˈ", "").replace("ˌ", "").replace("ː", "")
    if not symbol or symbol in {"_", "|", "||", "#", "sil", "pau"}:
        return None
    head = symbol[0]
    if head in "td" and symbol[1:2] in ("ʃ", "ʒ"):
        head = symbol[1]  # the affricates ch, j are shaped as their fricative
    for letters, openness, width, shut in _CLASSES:
        if head in letters:
            return openness, width, shut
    return _CONSONANT


def phoneme_targets(
    spans: Sequence[PhonemeSpan], n_frames: int, level: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame openness, width, shut and voiced from phoneme spans (samples from frame 0).

    A frame takes the mean of the phonemes overlapping it, weighted by overlap: a phoneme
    boundary inside a frame blends the two shapes. Openness is scaled by the frame's loudness,
    so a stressed vowel opens more than a reduced one.
    """
    openness = np.zeros(n_frames, np.float32)
    width = np.zeros(n_frames, np.float32)
    shut = np.zeros(n_frames, bool)
    weight = np.zeros(n_frames, np.float32)
    closure = np.zeros(n_frames, np.float32)
    for span in spans:
        target = phoneme_target(span.ipa)
        if target is None or span.end <= span.start:
            continue
        first = span.start // SAMPLES_PER_FRAME
        last = min(n_frames - 1, (span.end - 1) // SAMPLES_PER_FRAME)
        for f in range(max(0, first), last + 1):
            lo, hi = f * SAMPLES_PER_FRAME, (f + 1) * SAMPLES_PER_FRAME
            share = (min(hi, span.end) - max(lo, span.start)) / SAMPLES_PER_FRAME
            openness[f] += share * target[0]
            width[f] += share * target[1]
            weight[f] += share
            closure[f] += share * target[2]
    voiced = weight > 0.2
    safe = np.maximum(weight, 1e-6)
    openness = np.where(voiced, openness / safe * (0.55 + 0.45 * level), 0.0)
    width = np.where(voiced, width / safe, 0.0)
    shut = closure >= 0.4
    return openness.astype(np.float32), width.astype(np.float32), shut, voiced


def smooth(
    openness: np.ndarray,
    width: np.ndarray,
    voiced: np.ndarray | None = None,
    shut: np.ndarray | None = None,
    rest: float = 0.0,
) -> np.ndarray:
    """(frames, 2) float32 [openness, width]: fast attack, slower release, back to `rest`.

    A frame whose shape is within CLOSED of (rest, 0) and is not speech comes out exactly as
    (rest, 0): the renderer draws those as the idle frame itself.
    """
    n = len(openness)
    voiced = openness > 0 if voiced is None else voiced
    shut = np.zeros(n, bool) if shut is None else shut
    out = np.empty((n, 2), np.float32)
    level, spread = rest, 0.0
    for i in range(n):
        speaking = bool(voiced[i])
        goal = float(openness[i]) if speaking else rest
        rate = SHUT if shut[i] else ATTACK if goal > level else RELEASE
        level += rate * (goal - level)
        spread += WIDTH_FOLLOW * ((float(width[i]) if speaking else 0.0) - spread)
        # A closed source ignores the width near rest (closed lips barely show it), as before.
        at_rest = abs(level - rest) < CLOSED and (rest == 0.0 or abs(spread) < CLOSED)
        if at_rest and not speaking:
            level, spread = rest, 0.0
        if at_rest and (not speaking or rest == 0.0):
            out[i] = (rest, 0.0)
        else:
            out[i] = (level, spread)
    return out


def mouth_shapes(
    audio: np.ndarray,
    left_audio: np.ndarray | None = None,
    *,
    rest: float = 0.0,
    phonemes: Sequence[PhonemeSpan] = (),
) -> np.ndarray:
    """(frames, 2) float32 [openness, width] for `audio`, the smoother warmed on `left_audio`.

    One row per frame of `audio` (a partial last frame counts). `left_audio` is cut to whole
    frames counted back from the chunk border, so context frames line up with the turn's.
    `phonemes` count samples from the first sample of `left_audio` (see StreamState).
    """
    context = np.zeros(0, np.int16) if left_audio is None else np.asarray(left_audio)
    cut = len(context) % SAMPLES_PER_FRAME
    context = context[cut:]
    features = frame_features(np.concatenate([context, audio]) if len(context) else audio)
    if phonemes:
        moved = [
            PhonemeSpan(p.ipa, max(0, p.start - cut), max(0, p.end - cut))
            for p in phonemes
            if p.end > cut
        ]
        level = np.clip((features.loudness_db - GATE_DBFS) / (FULL_DBFS - GATE_DBFS), 0.0, 1.0)
        openness, width, shut, voiced = phoneme_targets(moved, len(level), level)
        voiced &= features.voiced  # a phoneme the audio does not carry (a pause) is silence
        shapes = smooth(openness, width, voiced, shut, rest)
    else:
        shapes = smooth(features.openness, features.width, features.voiced, None, rest)
    return shapes[len(context) // SAMPLES_PER_FRAME :]
