"""Per-frame Whisper windows: shape, alignment to frames, and chunk borders that match a whole turn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lipsync_worker.contract import SAMPLES_PER_FRAME
from lipsync_worker.renderers.musetalk import audio_features
from lipsync_worker.renderers.musetalk.audio_features import (
    WINDOW_POSITIONS,
    encoder_layers,
    frame_features,
    positional_encoding,
    to_float_audio,
)
from lipsync_worker.renderers.musetalk.models import MuseTalkModels
from tests.lipsync_worker.renderers.musetalk.conftest import speech_like


def features(
    models: MuseTalkModels, *args: object, right: np.ndarray | None = None
) -> torch.Tensor:
    with torch.inference_mode():
        return frame_features(models, *args, right_audio=right)  # type: ignore[arg-type]


def test_all_encoder_layers_are_stacked(models: MuseTalkModels, speech: np.ndarray) -> None:
    with torch.inference_mode():
        hidden = encoder_layers(models, to_float_audio(speech))
    layers = models.whisper.config.encoder_layers + 1  # the embedding output, then each layer
    assert hidden.shape == (len(speech) // 320, layers, models.audio_dim)


def test_one_window_per_frame_partial_frames_included(
    models: MuseTalkModels, speech: np.ndarray
) -> None:
    layers = models.whisper.config.encoder_layers + 1
    assert features(models, speech).shape == (30, WINDOW_POSITIONS * layers, models.audio_dim)
    assert features(models, speech[:1000]).shape[0] == 2
    assert features(models, speech[:0]).shape[0] == 0
    three_windows = speech_like(5.0)  # the tiny Whisper's window is 2 s
    assert features(models, three_windows).shape[0] == 125


def test_window_spans_two_frames_each_side(
    models: MuseTalkModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an encoder that outputs its position number, each frame's window is visible."""

    def numbered(_: MuseTalkModels, audio: np.ndarray) -> torch.Tensor:
        positions = torch.arange(len(audio) // 320, dtype=torch.float32) + 1
        return positions[:, None, None].expand(-1, 1, 4).clone()

    monkeypatch.setattr(audio_features, "encoder_layers", numbered)
    pe = positional_encoding(WINDOW_POSITIONS, 4)

    def window(*args: object) -> torch.Tensor:
        return (frame_features(models, *args) - pe)[..., 0].round()  # type: ignore[arg-type]

    audio = np.zeros(5 * SAMPLES_PER_FRAME, np.int16)
    got = window(audio)
    assert got[0].tolist() == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6]  # nothing before the turn
    assert got[2].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert got[4].tolist() == [5, 6, 7, 8, 9, 10, 0, 0, 0, 0]  # nothing after the audio

    # A chunk starting at frame 5 of its turn with one frame of left context after a partial
    # frame (dropped): positions are numbered as in a whole-turn render, and the silence that
    # stands in for the turn's audio before the left context counts as no audio.
    left = np.zeros(SAMPLES_PER_FRAME + 100, np.int16)
    chunk = window(audio[: 3 * SAMPLES_PER_FRAME], left, 5)
    assert chunk[0].tolist() == [0, 0, 9, 10, 11, 12, 13, 14, 15, 16]
    assert chunk[1].tolist() == [9, 10, 11, 12, 13, 14, 15, 16, 0, 0]
    assert chunk[2].tolist() == [11, 12, 13, 14, 15, 16, 0, 0, 0, 0]


def chunked_features(models: MuseTalkModels, audio: np.ndarray, right: int) -> torch.Tensor:
    """`audio` in 1 s chunks with 1 s of left context and `right` samples of right context."""
    second = 16_000
    chunks = []
    for start in range(0, len(audio), second):
        left = audio[max(0, start - second) : start]
        after = audio[start + second : start + second + right]
        chunk = audio[start : start + second]
        chunks.append(features(models, chunk, left, start // 640, right=after))
    return torch.cat(chunks)


def feature_error(models: MuseTalkModels, right: int) -> tuple[torch.Tensor, float]:
    """3 s in 1 s chunks, crossing a Whisper window border at 2 s (the tiny model's window)."""
    audio = speech_like(3.0)
    whole = features(models, audio)
    chunked = chunked_features(models, audio, right)
    assert chunked.shape == whole.shape
    return (chunked - whole).abs().amax(dim=(1, 2)), whole.abs().amax().item()


def test_right_context_gives_every_frame_the_features_of_the_whole_turn(
    models: MuseTalkModels,
) -> None:
    error, scale = feature_error(models, right=3_200)
    assert (error < 0.02 * scale).all(), error


def test_without_right_context_a_chunks_last_two_frames_differ(models: MuseTalkModels) -> None:
    """Left context only: the two frames before a chunk border see silence beyond it."""
    error, scale = feature_error(models, right=0)
    border = {23, 24, 48, 49}
    assert all(error[f] < 0.02 * scale for f in range(75) if f not in border), error
    assert all(error[f] > 0.1 * scale for f in border), "right context is expected to differ"


def test_right_context_needs_a_chunk_of_whole_frames(models: MuseTalkModels) -> None:
    with pytest.raises(ValueError, match="whole number of frames"):
        features(models, speech_like(0.5)[:1000], right=speech_like(0.2))


def test_float_audio_is_accepted_as_is(models: MuseTalkModels, speech: np.ndarray) -> None:
    as_float = speech.astype(np.float32) / 32768.0
    assert torch.equal(features(models, speech), features(models, as_float))
