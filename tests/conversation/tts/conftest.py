from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contracts.phonemes import PhonemeSpan
from conversation.tts.base import OUTPUT_RATE, phonemes_of
from conversation.tts.voices import VoiceInfo, packaged_piper_voices


@pytest.fixture(scope="session")
def joe() -> VoiceInfo:
    """The packaged neural voice, en_US-joe-medium: the real model, as the product uses it."""
    (voice,) = packaged_piper_voices()
    assert voice.name == "en_US-joe-medium"
    return voice


def drop_voice(
    folder: Path, joe: VoiceInfo, name: str, *, language: str = "en_US", corrupt: bool = False
) -> Path:
    """A Piper voice dropped into `folder`: joe's model (linked, not copied: 60 MB) under
    another name and language, or a corrupt model beside a valid config."""
    assert joe.model_path is not None and joe.config_path is not None
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{name}.onnx"
    if corrupt:
        model.write_bytes(b"\x08\x07not an onnx model" * 100)
    else:
        model.symlink_to(joe.model_path)
    config = joe.config_path.read_text(encoding="utf-8")
    config = config.replace('"code": "en_US"', f'"code": "{language}"')
    Path(f"{model}.json").write_text(config, encoding="utf-8")
    return model


def timed_speech(blocks: list[np.ndarray]) -> tuple[np.ndarray, list[PhonemeSpan]]:
    """The blocks' audio and their phonemes, checked as the renderer needs them: each block
    carries the phonemes that start in it or later (never earlier ones), in order, on the
    16 kHz timeline of the whole text, and they cover its speech (nearly every loud 40 ms
    frame lies within a phoneme); two sentences' phonemes lie apart by the pause between."""
    audio = np.concatenate(blocks)
    spans: list[PhonemeSpan] = []
    offset = 0
    for block in blocks:
        assert all(span.start >= offset for span in phonemes_of(block))  # known in time
        spans += phonemes_of(block)
        offset += block.size
    assert spans and spans[-1].end <= audio.size
    pairs = list(zip(spans, spans[1:], strict=False))
    assert all(a.end <= b.start and b.start < b.end for a, b in pairs)
    assert max(b.start - a.end for a, b in pairs) > 0.1 * OUTPUT_RATE
    frames = audio[: audio.size // 640 * 640].reshape(-1, 640).astype(np.float64)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 0.03 * 32768)  # -30 dBFS
    covered = [any(s.start < (f + 1) * 640 and s.end > f * 640 for s in spans) for f in loud]
    assert loud.size > 30 and np.mean(covered) > 0.95
    return audio, spans
