"""Per-frame audio conditioning for MuseTalk: Whisper encoder layers windowed around each frame.

Whisper's encoder emits 50 positions a second, two per 25 fps video frame. Each video frame is
conditioned on the positions of the frames two before to two after it (10 positions), every
encoder layer's output stacked (embedding output + one per layer), flattened position-major into
a sequence of 10 x layers tokens of width d_model, plus a sinusoidal position encoding: the
`encoder_hidden_states` the UNet cross-attends to. Positions outside the audio are zero vectors.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lipsync_worker.contract import SAMPLE_RATE, SAMPLES_PER_FRAME, frames_for_samples
from lipsync_worker.renderers.musetalk.models import MuseTalkModels

POSITIONS_PER_FRAME = 2  # Whisper encoder positions per video frame (50 Hz / 25 fps)
SAMPLES_PER_POSITION = SAMPLES_PER_FRAME // POSITIONS_PER_FRAME
FRAMES_LEFT = 2
FRAMES_RIGHT = 2
WINDOW_POSITIONS = POSITIONS_PER_FRAME * (FRAMES_LEFT + 1 + FRAMES_RIGHT)


def to_float_audio(audio: np.ndarray) -> np.ndarray:
    """int16 PCM (or float already in [-1, 1]) -> float32 in [-1, 1]."""
    if np.issubdtype(audio.dtype, np.integer):
        return audio.astype(np.float32) / 32768.0
    return audio.astype(np.float32)


def usable_left_context(left_audio: np.ndarray) -> np.ndarray:
    """Drop the oldest samples so the left context is a whole number of frames.

    Keeps frame boundaries of the context on the same grid as the chunk's, so encoder
    positions line up with the frames of a whole-turn render.
    """
    return left_audio[len(left_audio) % SAMPLES_PER_FRAME :]


def encoder_layers(models: MuseTalkModels, audio: np.ndarray) -> torch.Tensor:
    """P x (layers + 1) x d_model hidden states for float audio, P = one per 20 ms of audio.

    Whisper takes fixed windows (30 s for the official model), so longer audio is encoded in
    consecutive windows whose positions are concatenated.
    """
    window = int(models.feature_extractor.n_samples)
    segments = [audio[start : start + window] for start in range(0, len(audio), window)]
    if not segments:
        return torch.zeros(0, models.whisper.config.encoder_layers + 1, models.audio_dim)
    mel = models.feature_extractor(
        segments, sampling_rate=SAMPLE_RATE, return_tensors="pt"
    ).input_features
    out = models.whisper(mel.to(models.device, models.dtype), output_hidden_states=True)
    stacked = torch.stack(out.hidden_states, dim=2)  # segments x positions x layers x d
    flat = stacked.reshape(-1, *stacked.shape[2:])
    return flat[: len(audio) // SAMPLES_PER_POSITION]


def positional_encoding(length: int, dim: int) -> torch.Tensor:
    """The sinusoidal encoding of "Attention Is All You Need": sin on even, cos on odd columns."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rates = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10_000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * rates)
    table[:, 1::2] = torch.cos(position * rates[: dim // 2])
    return table


def frame_features(
    models: MuseTalkModels,
    audio: np.ndarray,
    left_audio: np.ndarray | None = None,
    turn_frame: int = 0,
    *,
    right_audio: np.ndarray | None = None,
) -> torch.Tensor:
    """F x (10 * layers) x d_model cross-attention inputs, one row per frame of `audio`.

    `audio` starts at frame `turn_frame` of its turn and `left_audio` is the turn's audio just
    before it. Each sample is placed in the Whisper window where a render of the whole turn
    would place it (windows start at the turn's first sample, silence fills the part of the
    window before the left context), because the encoder's features depend on the absolute
    position in its window. `right_audio` is the turn's audio just after the chunk: the last
    frames' windows reach into it. Positions outside the audio we have are zero vectors.
    """
    window = int(models.feature_extractor.n_samples)
    if window % SAMPLES_PER_FRAME:
        raise ValueError(f"Whisper window of {window} samples is not a whole number of frames")
    chunk_start = turn_frame * SAMPLES_PER_FRAME
    left = usable_left_context(left_audio if left_audio is not None else np.zeros(0, np.int16))
    left = left[max(0, len(left) - chunk_start) :]  # nothing before the turn's first sample
    lead = (chunk_start - len(left)) % window
    right = right_audio if right_audio is not None else np.zeros(0, np.int16)
    if len(right) and len(audio) % SAMPLES_PER_FRAME:
        raise ValueError("right context after audio that is not a whole number of frames")
    joined = np.concatenate(
        [
            np.zeros(lead, np.float32),
            to_float_audio(left),
            to_float_audio(audio),
            to_float_audio(right),
        ]
    )
    hidden = encoder_layers(models, joined)
    hidden[: lead // SAMPLES_PER_POSITION] = 0.0  # silence we made up, not the turn's audio
    layers, dim = hidden.shape[1], hidden.shape[2]
    n_frames = frames_for_samples(len(audio))
    if n_frames == 0:
        return torch.zeros(0, WINDOW_POSITIONS * layers, dim, device=models.device)

    first_frame = (lead + len(left)) // SAMPLES_PER_FRAME
    pad_left = POSITIONS_PER_FRAME * FRAMES_LEFT
    needed = POSITIONS_PER_FRAME * (first_frame + n_frames + FRAMES_RIGHT)
    padded = hidden.new_zeros(pad_left + max(needed, hidden.shape[0]), layers, dim)
    padded[pad_left : pad_left + hidden.shape[0]] = hidden

    # Window of frame f (counted from the start of `joined`) starts at position 2f - 4,
    # which is index 2f in the left-padded sequence.
    starts = POSITIONS_PER_FRAME * torch.arange(first_frame, first_frame + n_frames)
    index = (starts[:, None] + torch.arange(WINDOW_POSITIONS)[None, :]).to(padded.device)
    windows = padded[index].reshape(n_frames, WINDOW_POSITIONS * layers, dim)
    encoding = positional_encoding(WINDOW_POSITIONS * layers, dim)
    return windows + encoding.to(windows.device, windows.dtype)
