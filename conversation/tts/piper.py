"""piper backend: a neural voice run in this process on onnxruntime, loaded once per process.

Synthesis runs in a thread pool sized to the cores (onnxruntime releases the GIL while it
computes), one piper sentence at a time, so the event loop never waits on the model and audio
streams out sentence by sentence as the engine makes it, resampled to 16 kHz.

The model is patched in memory (with the `onnx` package) to report how many samples each
phoneme takes: the blocks carry those phoneme timings (`SpeechBlock`), which the lip-sync
renderer shapes the mouth by. Without `onnx`, or with a model that cannot be patched, the voice
speaks as before, without timings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import threading
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from contracts.phonemes import PhonemeSpan
from conversation.tts.base import TtsError, TtsErrorKind
from conversation.tts.pcm import Piece, drain, spans_from_alignments, stream_pieces

if TYPE_CHECKING:
    from piper import PiperVoice
    from piper.voice import AudioChunk

log = logging.getLogger(__name__)

# Control characters other than tab and newline have no business in speech.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Peak-normalised sentences at 0.9 of full scale: headroom for the resampler's overshoot.
_VOLUME = 0.9

_pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="piper")
_load_lock = threading.Lock()
_loaded: dict[Path, PiperVoice] = {}
# A voice that failed to load, by its files' (size, mtime): replacing the files retries it.
_broken: dict[Path, tuple[tuple[int, int], str]] = {}


def voice_sample_rate(config_path: Path) -> int:
    """`audio.sample_rate` from the voice's `.onnx.json`, as piper itself reads it."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        rate = config["audio"]["sample_rate"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TtsError(
            TtsErrorKind.BAD_VOICE,
            f"piper voice config {config_path.name} unusable ({type(exc).__name__})",
        ) from None
    if not isinstance(rate, int) or not 4000 <= rate <= 192000:
        raise TtsError(TtsErrorKind.BAD_VOICE, f"piper voice config {config_path.name}: bad rate")
    return rate


def _stamp(*paths: Path) -> tuple[int, int]:
    stats = [path.stat() for path in paths]
    return sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats)


def load_voice(model_path: Path, config_path: Path | None = None) -> PiperVoice:
    """The voice model, loaded once per process (about 1 s, 0.4 s of it patching in the
    phoneme timings, and 60 MB for a medium voice).

    Raises TtsError(BAD_VOICE) when the files are missing or not a piper voice.
    """
    model_path = Path(model_path).resolve()
    config_path = Path(config_path or f"{model_path}.json")
    with _load_lock:
        if (voice := _loaded.get(model_path)) is not None:
            return voice
        try:
            stamp = _stamp(model_path, config_path)
        except OSError:
            raise TtsError(
                TtsErrorKind.BAD_VOICE, f"piper voice {model_path.name} not found"
            ) from None
        broken = _broken.get(model_path)
        if broken is not None and broken[0] == stamp:
            raise TtsError(TtsErrorKind.BAD_VOICE, broken[1])
        try:
            voice = _open(model_path, config_path)
        except Exception as exc:  # onnxruntime raises its own types for a corrupt model
            reason = f"piper voice {model_path.name} unusable ({type(exc).__name__})"
            _broken[model_path] = (stamp, reason)
            raise TtsError(TtsErrorKind.BAD_VOICE, reason) from None
        _loaded[model_path] = voice
        return voice


def _open(model_path: Path, config_path: Path) -> PiperVoice:
    # `PiperVoice.load` without its session defaults: onnxruntime would otherwise start a
    # spinning thread per core for every synthesis, and the pool already spreads sentences
    # across the cores; one thread per sentence keeps the event loop's core responsive.
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        _with_alignments(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(session=session, config=config)


_unaligned_warned = False


def _with_alignments(model_path: Path) -> str | bytes:
    """The model patched in memory to output its phonemes' durations (as piper's own
    `PiperVoice.load(include_alignments=True)` does), or its path when it cannot be: the
    voice then speaks without phoneme timings (one warning per process)."""
    global _unaligned_warned
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output

        model = onnx.load(str(model_path))
        add_alignment_output(model)
        patched: bytes = model.SerializeToString()
        return patched
    except ValueError as exc:
        if "already marked as output" in str(exc):  # a model file patched beforehand
            return str(model_path)
        reason = "model cannot be patched"
    except ImportError:
        reason = "the onnx package is not installed"
    except Exception as exc:  # onnx's own errors for a model it cannot read
        reason = f"model cannot be patched ({type(exc).__name__})"
    if not _unaligned_warned:
        _unaligned_warned = True
        log.warning("piper: no phoneme timings (%s); the mouth follows loudness only", reason)
    return str(model_path)


def speakable(text: str) -> str:
    """The text as piper should read it: plain words on one line, never phoneme input."""
    # "[[...]]" is piper's raw-phoneme syntax; answer text must be read as words.
    return " ".join(_CONTROL.sub(" ", text).replace("[[", "[ [").split())


class _StoppableSession:
    """The voice's onnxruntime session, run with options that another thread can terminate:
    a barge-in stops the sentence being computed instead of leaving it to burn a core."""

    def __init__(self, session: Any, options: Any) -> None:
        self._session = session
        self.options = options

    def run(self, output_names: Any, inputs: Any) -> Any:
        return self._session.run(output_names, inputs, self.options)


def _sentences(voice: PiperVoice, text: str, stop: Any = None) -> Iterator[Piece]:
    """int16 samples at the voice's rate, one piper sentence at a time, with its phonemes when
    the model reports them; `stop`, an onnxruntime RunOptions, ends the sentence being
    computed when its `terminate` is set."""
    from piper.config import SynthesisConfig

    if stop is not None:  # piper's own synthesis over the same model, sessions share it
        voice = dataclasses.replace(voice, session=_StoppableSession(voice.session, stop))
    config = SynthesisConfig(volume=_VOLUME)
    timed = True  # once a piper sentence comes without timings, none of the rest carries any
    for chunk in voice.synthesize(text, syn_config=config, include_alignments=True):
        spans = phoneme_spans(chunk) if timed else ()
        timed = bool(spans)
        yield Piece(chunk.audio_int16_bytes, spans)


def phoneme_spans(chunk: AudioChunk) -> tuple[PhonemeSpan, ...]:
    """The phonemes of one piper sentence, samples at the voice's rate from its first sample,
    IPA symbols as the voice's `phoneme_id_map` names them (`spans_from_alignments`). Empty
    when the model reports none, or durations that do not add up to the audio."""
    alignments = chunk.phoneme_alignments
    if not alignments or sum(a.num_samples for a in alignments) != len(chunk.audio_float_array):
        return ()
    return spans_from_alignments((a.phoneme, a.num_samples) for a in alignments)


class PiperTts:
    """Speaks with one piper voice model, in this process."""

    name = "piper"

    def __init__(self, model_path: str | os.PathLike[str], config_path: Path | None = None):
        self.model_path = Path(model_path)
        self.config_path = Path(config_path or f"{self.model_path}.json")
        if not self.model_path.is_file():
            raise TtsError(TtsErrorKind.BAD_VOICE, f"piper voice {self.model_path.name} not found")
        self.sample_rate = voice_sample_rate(self.config_path)

    def load(self) -> PiperVoice:
        """Load the model now (or get the process's copy); blocking, raises TtsError."""
        return load_voice(self.model_path, self.config_path)

    def warm(self) -> None:
        """Load the model and speak a word, so that the first customer's sentence does not pay
        for onnxruntime's first run and the phonemizer's start; blocking, raises TtsError."""
        drain(_sentences(self.load(), "Hello."), "piper")

    async def synthesize(
        self, text: str, *, voice: str, language: str
    ) -> AsyncGenerator[np.ndarray, None]:
        # The model is the voice: `voice` and `language` are fixed by it and go unused.
        words = speakable(text)
        if not words:
            return
        import onnxruntime

        loop = asyncio.get_running_loop()
        model = await loop.run_in_executor(_pool, self.load)
        stop = onnxruntime.RunOptions()
        stream = stream_pieces(
            _pool, _sentences(model, words, stop), self.sample_rate, stop=stop, engine="piper"
        )
        async with aclosing(stream) as blocks:
            async for block in blocks:
                yield block


def loaded_voices() -> list[str]:
    """File names of the voices this process holds: for /healthz."""
    with _load_lock:
        return sorted(path.name for path in _loaded)
