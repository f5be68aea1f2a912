"""Has the customer finished? Smart Turn v3.2 reads the last 8 s of an utterance and says.

Silence alone cannot tell "When do you open on …" from "When do you open on Sunday?": people
pause inside sentences for 300-700 ms and stop after them for as little. The model (Daily's
Smart Turn v3.2, BSD-2, an 8.7 MB ONNX file shipped inside the `pipecat-ai` wheel, used here
without the rest of that framework) hears intonation and the words' shape and gives the
probability that the turn is complete. The file is used only when its sha256 is the one pinned
here. How the session uses it (thresholds and why): docs/architecture.md, Voice.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from conversation.asr.packaged import sha256_file

log = logging.getLogger(__name__)

MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
SAMPLE_RATE = 16_000
WINDOW_S = 8  # the model hears at most the last 8 s, zero-padded in front when shorter
_N_MELS = 80


class TurnModelError(RuntimeError):
    """The end-of-turn model is missing, altered, or cannot run."""


def packaged_model() -> Path:
    """Where the pipecat-ai wheel put the model (its package is not imported: only the file is used)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise TurnModelError(
            "package pipecat-ai is not installed (pip install --no-deps pipecat-ai)"
        )
    path = Path(spec.submodule_search_locations[0]) / "audio/turn/smart_turn/data" / MODEL_FILE
    if not path.is_file():
        raise TurnModelError(f"{MODEL_FILE} is missing from the pipecat-ai package")
    return path


class _Features:
    """Whisper's log-mel spectrogram of an 8 s window (80 bins x 800 frames), as the model was
    trained on: the waveform normalised to zero mean and unit variance first."""

    def __init__(self) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor

        self._extract = FeatureExtractor(feature_size=_N_MELS, chunk_length=WINDOW_S)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        samples = WINDOW_S * SAMPLE_RATE
        x = audio.astype(np.float32) / 32768.0
        x = x[-samples:] if len(x) > samples else np.pad(x, (samples - len(x), 0))
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        features = self._extract(x, padding=0)
        return features[np.newaxis, :, : samples // 160].astype(np.float32)


@dataclass(frozen=True)
class TurnVerdict:
    probability: float  # that the speaker has finished their turn
    complete: bool


class TurnCompletion:
    """The end-of-turn model, loaded once per process; `judge` is thread-safe and releases the
    GIL while the model runs (onnxruntime), so sessions call it from a thread."""

    def __init__(
        self, path: Path | None = None, *, threshold: float = 0.5, threads: int = 1
    ) -> None:
        import onnxruntime

        path = path or packaged_model()
        if not path.is_file():
            raise TurnModelError(f"no end-of-turn model at {path}")
        if (digest := sha256_file(path)) != MODEL_SHA256:
            raise TurnModelError(
                f"end-of-turn model {path.name} has sha256 {digest[:16]}…, expected "
                f"{MODEL_SHA256[:16]}…: reinstall pipecat-ai"
            )
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.log_severity_level = 4
        try:
            self._session: Any = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise TurnModelError(f"end-of-turn model does not load: {type(exc).__name__}") from exc
        self._features = _Features()
        self.threshold = threshold
        self._lock = threading.Lock()  # one inference at a time: they take ~20 ms
        self.name = path.name

    def judge(self, audio: np.ndarray) -> TurnVerdict:
        """`audio`: int16 mono 16 kHz, the utterance up to now (the pause's audio)."""
        if audio.dtype != np.int16 or audio.ndim != 1 or not len(audio):
            raise ValueError("expected non-empty 1-D int16 samples")
        features = self._features(audio)
        with self._lock:
            (output,) = self._session.run(None, {"input_features": features})
        probability = float(np.asarray(output).reshape(-1)[0])
        return TurnVerdict(probability=probability, complete=probability >= self.threshold)


# Words a sentence does not end on: a transcript ending on one was cut inside the sentence.
_CONTINUES = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "so",
        "because",
        "if",
        "that",
        "which",
        "to",
        "of",
        "for",
        "with",
        "from",
        "at",
        "by",
        "than",
        "my",
        "your",
        "our",
        "their",
        "his",
        "her",
        "its",
        "um",
        "uh",
        "er",
        "erm",
    ]
)


def transcript_looks_complete(text: str) -> bool:
    """Whether a transcript reads as a whole question or statement: Whisper ends those with
    ?, . or ! (and a cut-off phrase mostly without, or with "..."), and a sentence does not end
    on "and", "the" or "um". The second opinion beside the model, from the words."""
    text = text.strip()
    if not text or text.endswith(("...", "…", ",", "-")) or text[-1] not in ".?!。？！":
        return False
    words = text.rstrip(".?!。？！").split()
    return bool(words) and words[-1].lower().strip("\"'") not in _CONTINUES
