"""Streaming voice activity: PCM16 blocks in, speech-start and end-of-utterance events out.

Pure logic over a per-window speech probability (Silero, or a scripted fake in tests). Time is
counted in audio samples, not wall clock, so the events do not depend on block size or pace.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

SAMPLE_RATE = 16_000
WINDOW = 512  # samples the Silero model takes at 16 kHz
WINDOW_MS = WINDOW * 1000 / SAMPLE_RATE  # 32 ms
_CONTEXT = 64  # samples of the previous window that Silero sees before each window


class SpeechProbability(Protocol):
    """One stream's speech model: stateful, fed consecutive windows of one stream."""

    def __call__(self, window: np.ndarray) -> float: ...


@functools.cache
def _silero_session() -> Any:
    """The one ONNX session of this process; streams keep their own state beside it."""
    import onnxruntime
    from faster_whisper.utils import get_assets_path

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    path = Path(get_assets_path()) / "silero_vad_v6.onnx"
    return onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"], sess_options=opts
    )


class SileroStream:
    """Silero state for one audio stream: LSTM state and the last 64 samples."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def __call__(self, window: np.ndarray) -> float:
        if window.shape != (WINDOW,):
            raise ValueError(f"Silero takes {WINDOW}-sample windows, got {window.shape}")
        window = window.astype(np.float32, copy=False)
        model_input = np.concatenate([self._context, window])[np.newaxis]
        probs, self._h, self._c = self._session.run(
            None, {"input": model_input, "h": self._h, "c": self._c}
        )
        self._context = window[-_CONTEXT:].copy()
        return float(probs[0])


class SileroProbability:
    """The Silero VAD model shipped inside faster-whisper, shared by every stream in a process."""

    def __init__(self) -> None:
        self._session = _silero_session()

    def new_stream(self) -> SileroStream:
        return SileroStream(self._session)


@dataclass(frozen=True)
class SpeechStarted:
    """Speech confirmed (it lasted `min_speech_ms`); `at_ms` is when it began."""

    at_ms: float
    decision_ms: float  # audio after `at_ms` needed to confirm it


@dataclass(frozen=True)
class SpeechEnded:
    """End of utterance; `audio` is int16 with `lead_ms` before the start and `pad_ms` after
    the end."""

    at_ms: float
    audio: np.ndarray = field(compare=False, repr=False)
    decision_ms: float  # audio after `at_ms` needed to decide; 0 for a forced end

    @property
    def duration_ms(self) -> float:
        return len(self.audio) * 1000 / SAMPLE_RATE


@dataclass(frozen=True)
class SpeechPaused:
    """The speech has stopped for `pause_ms`, not yet for `end_silence_ms`: `audio` is what the
    SpeechEnded with the same `at_ms` will carry if no speech resumes. Recognising it now saves
    the rest of the hang-over; if speech resumes, a later event has another `at_ms`."""

    at_ms: float
    audio: np.ndarray = field(compare=False, repr=False)


VadEvent = SpeechStarted | SpeechPaused | SpeechEnded


class VoiceActivity:
    """Endpointer for one stream: hysteresis on the speech probability, in 32 ms windows."""

    def __init__(
        self,
        probability: Callable[[], SpeechProbability],
        *,
        threshold: float = 0.5,
        neg_threshold: float = 0.35,
        min_speech_ms: float = 200,
        end_silence_ms: float = 300,
        pad_ms: float = 150,
        max_utterance_s: float = 30,
        pause_ms: float | None = None,
        lead_ms: float | None = None,
    ) -> None:
        """`pad_ms` of audio goes after an utterance's end and `lead_ms` (`pad_ms` unless given)
        before its start, never reaching back into the utterance before it."""
        if not 0 <= neg_threshold <= threshold <= 1:
            raise ValueError("need 0 <= neg_threshold <= threshold <= 1")
        if max_utterance_s * 1000 <= min_speech_ms:
            raise ValueError("max_utterance_s must be longer than min_speech_ms")
        self._new_stream = probability
        self.threshold = threshold
        self.neg_threshold = neg_threshold
        self._min_speech = math.ceil(min_speech_ms / WINDOW_MS)  # in windows
        self._end_silence = max(1, math.ceil(end_silence_ms / WINDOW_MS))
        self._max_utterance = math.floor(max_utterance_s * 1000 / WINDOW_MS)
        self._pad = round(pad_ms * SAMPLE_RATE / 1000)  # in samples
        self._lead = round((pad_ms if lead_ms is None else lead_ms) * SAMPLE_RATE / 1000)
        # A pause is announced once the end pad has been heard (its audio is then final), and
        # only if that comes before the end itself. 0: no pause events.
        self._pause = 0
        if pause_ms is not None:
            pause = max(math.ceil(pause_ms / WINDOW_MS), math.ceil(self._pad / WINDOW))
            self._pause = pause if pause < self._end_silence else 0
        self._preroll = math.ceil(max(self._pad, self._lead) / WINDOW) + 1  # kept while idle
        self.reset()

    @property
    def max_utterance_s(self) -> float:
        return self._max_utterance * WINDOW_MS / 1000

    @max_utterance_s.setter
    def max_utterance_s(self, seconds: float) -> None:
        # Never shorter than what confirms speech, or no utterance could ever start.
        self._max_utterance = max(math.floor(seconds * 1000 / WINDOW_MS), self._min_speech + 1)

    @property
    def buffered_samples(self) -> int:
        """Audio this stream holds now: at most max_utterance_s plus the pre-roll and a window."""
        return len(self._windows) * WINDOW + len(self._leftover)

    def reset(self) -> None:
        """Forget everything, the model's state included (a new stream)."""
        self._stream = self._new_stream()
        self._leftover = np.zeros(0, dtype=np.int16)
        self._windows: deque[np.ndarray] = deque()
        self._first_window = 0  # index of `_windows[0]` in the stream
        self._now = 0  # windows processed so far
        self._start: int | None = None  # first window of the candidate or utterance
        self._confirmed = False
        self._speech_end = 0  # window after the last speech window
        self._silent = 0  # silent windows since `_speech_end`
        self._after = 0  # first sample the next utterance may include: the last one's speech end

    def push(self, pcm: np.ndarray) -> list[VadEvent]:
        """Feed int16 mono 16 kHz samples, any block size; return the events they complete."""
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"expected 1-D int16 samples, got {pcm.dtype} {pcm.shape}")
        samples = np.concatenate([self._leftover, pcm]) if len(self._leftover) else pcm
        whole = len(samples) - len(samples) % WINDOW
        self._leftover = samples[whole:].copy()
        events: list[VadEvent] = []
        for offset in range(0, whole, WINDOW):
            self._step(samples[offset : offset + WINDOW], events)
        return events

    def utterance_so_far(self) -> np.ndarray | None:
        """The confirmed utterance up to now (with its leading pad), for partial transcripts."""
        if self._start is None or not self._confirmed:
            return None
        audio = np.concatenate(self._windows)
        return audio[self._lead_from(self._start) :]

    @property
    def hearing_speech(self) -> bool:
        """Whether the last window sounded like speech (confirmed or not): an answer waiting for
        the floor keeps waiting while this is true."""
        return self._start is not None and self._silent == 0

    def end_if_paused(self, at_ms: float) -> SpeechEnded | None:
        """End the utterance now if it is still in the pause that began at `at_ms` (the
        end-of-turn model judged it complete); None when speech has resumed since."""
        if self._start is None or not self._confirmed or not self._silent:
            return None
        if self._speech_end * WINDOW_MS != at_ms:
            return None
        return self._end(self._speech_end, decision_windows=self._silent)

    def flush(self) -> list[VadEvent]:
        """The microphone stopped: a confirmed utterance ends here, an unconfirmed one is dropped."""
        events: list[VadEvent] = []
        if self._start is not None and self._confirmed:
            events.append(self._end(self._speech_end, decision_windows=0))
        self.reset()
        return events

    def _step(self, window: np.ndarray, events: list[VadEvent]) -> None:
        probability = self._stream(window.astype(np.float32) / 32768.0)
        self._windows.append(window.copy())
        index, self._now = self._now, self._now + 1
        if self._start is None:
            if probability >= self.threshold:
                self._start, self._speech_end, self._silent = index, index + 1, 0
            else:
                self._trim_idle()
            return
        if probability >= self.neg_threshold:
            self._speech_end, self._silent = index + 1, 0
        else:
            self._silent += 1
        if not self._confirmed:
            # Speech not yet confirmed must be unbroken: a click, then a cough 200 ms later,
            # is not a barge-in.
            if self._silent:
                self._start = None
                self._trim_idle()
            elif self._now - self._start >= self._min_speech:
                self._confirmed = True
                decision = (self._now - self._start) * WINDOW_MS
                events.append(SpeechStarted(at_ms=self._start * WINDOW_MS, decision_ms=decision))
            return
        if self._silent and self._silent == self._pause:
            events.append(
                SpeechPaused(
                    at_ms=self._speech_end * WINDOW_MS, audio=self._utterance(self._speech_end)
                )
            )
        if self._silent >= self._end_silence:
            events.append(self._end(self._speech_end, decision_windows=self._silent))
        elif self._now - self._start >= self._max_utterance:
            events.append(self._end(self._now, decision_windows=0))

    def _utterance(self, end: int) -> np.ndarray:
        """The utterance up to window `end`, with the pad before and after it."""
        assert self._start is not None
        audio = np.concatenate(self._windows)
        hi = min((end - self._first_window) * WINDOW + self._pad, len(audio))
        return audio[self._lead_from(self._start) : hi]

    def _lead_from(self, start: int) -> int:
        """Where an utterance starting at window `start` begins in `_windows`: `lead_ms` before,
        but not before the previous utterance's speech ended."""
        return max(start * WINDOW - self._lead, self._after, self._first_window * WINDOW) - (
            self._first_window * WINDOW
        )

    def _end(self, end: int, *, decision_windows: int) -> SpeechEnded:
        event = SpeechEnded(
            at_ms=end * WINDOW_MS,
            audio=self._utterance(end),
            decision_ms=decision_windows * WINDOW_MS,
        )
        self._after = end * WINDOW  # a forced end cuts here: the rest is the next utterance's
        self._start, self._confirmed, self._silent = None, False, 0
        self._trim_idle()
        return event

    def _trim_idle(self) -> None:
        # While idle only the pre-roll is needed; during speech the buffer grows up to
        # max_utterance_s, which bounds it.
        while len(self._windows) > self._preroll:
            self._windows.popleft()
            self._first_window += 1
