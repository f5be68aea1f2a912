"""Audio framing for lip-sync: cut TTS audio into frame-aligned chunks and give each chunk the
audio just before and just after it. Pure numpy over int16 mono samples (resampling is
`tts/resample.py`'s).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from contracts.media import SAMPLE_RATE, SAMPLES_PER_FRAME
from contracts.phonemes import PhonemeSpan

FIRST_CHUNK_SAMPLES = 10 * SAMPLES_PER_FRAME  # 0.4 s: the turn's first frames come early
MAX_CHUNK_SAMPLES = 25 * SAMPLES_PER_FRAME  # 1.0 s: one short, cancellable lip-sync task
LEFT_CONTEXT_MS = 1000.0
# MuseTalk's audio window reaches two frames past each frame, and Whisper's mel frames a little
# further: 200 ms after a chunk make its last frames render as in a render of the whole turn.
RIGHT_CONTEXT_MS = 200.0


def right_context_ms(renderer: str) -> float:
    """The audio after a chunk that `renderer` reads. Only MuseTalk looks ahead; the CPU
    renderer reads none, so a chunk is never held back for it (holding the last chunk of a
    sentence until the next one speaks costs smoothness when the voice is busy)."""
    return RIGHT_CONTEXT_MS if renderer == "musetalk" else 0.0


def _check_frame_multiple(samples: int, name: str) -> None:
    if samples <= 0 or samples % SAMPLES_PER_FRAME:
        raise ValueError(f"{name} must be a positive multiple of {SAMPLES_PER_FRAME} samples")


def split_pcm(
    pcm: np.ndarray,
    *,
    first_chunk_samples: int = FIRST_CHUNK_SAMPLES,
    max_chunk_samples: int = MAX_CHUNK_SAMPLES,
) -> list[np.ndarray]:
    """Cut 16 kHz int16 audio into lip-sync chunks (views into `pcm`).

    The first chunk is at most `first_chunk_samples`, the others at most `max_chunk_samples`;
    every chunk but the last holds a whole number of video frames.
    """
    _check_frame_multiple(first_chunk_samples, "first_chunk_samples")
    _check_frame_multiple(max_chunk_samples, "max_chunk_samples")
    chunks: list[np.ndarray] = []
    start, size = 0, first_chunk_samples
    while start < len(pcm):
        chunks.append(pcm[start : start + size])
        start += size
        size = max_chunk_samples
    return chunks


def pad_to_whole_frames(pcm: np.ndarray) -> np.ndarray:
    """Append silence up to a whole number of frames (at most 39 ms at a sentence's end)."""
    missing = -len(pcm) % SAMPLES_PER_FRAME
    if not missing:
        return pcm
    return np.concatenate([pcm, np.zeros(missing, dtype=np.int16)])


def left_context(
    previous: np.ndarray, *, ms: float = LEFT_CONTEXT_MS, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """The last `ms` milliseconds of `previous` (the turn's audio before a chunk), a copy."""
    samples = int(round(ms * sample_rate / 1000.0))
    if samples <= 0:
        return np.zeros(0, dtype=np.int16)
    return np.array(previous[-samples:], dtype=np.int16)


@dataclass(frozen=True, slots=True)
class LipSyncChunk:
    """One chunk for a lip-sync task, with what `StreamState` needs to render it stateless."""

    pcm: np.ndarray  # int16 mono 16 kHz, a whole number of frames
    first_frame: int  # frames of the turn before this chunk
    left_audio: np.ndarray  # the turn's audio just before this chunk, up to LEFT_CONTEXT_MS
    sentence: int
    is_last_of_sentence: bool
    # The turn's audio just after this chunk, up to RIGHT_CONTEXT_MS; shorter only at the
    # turn's end (after it comes silence) or after a sentence whose speech failed.
    right_audio: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    # The phonemes spoken in `left_audio` and `pcm`, samples counted from the first sample of
    # `left_audio` (as StreamState's); empty when the TTS reported none for this sentence.
    phonemes: tuple[PhonemeSpan, ...] = ()


def phonemes_within(
    spans: list[PhonemeSpan], start: int, end: int, *, shift: int
) -> tuple[PhonemeSpan, ...]:
    """The spans (samples on one timeline) that overlap `start`..`end`, cut at those edges and
    counted from `shift`."""
    return tuple(
        PhonemeSpan(span.ipa, max(span.start, start) - shift, min(span.end, end) - shift)
        for span in spans
        if span.end > start and span.start < end
    )


class TurnAudioChunker:
    """Cuts a turn's streamed TTS audio into `LipSyncChunk`s as it arrives.

    Within a sentence it cuts like `split_pcm` (only the turn's first chunk is short); at
    `end_sentence` the rest is padded with silence to whole frames, so every chunk of a turn
    is frame-aligned and each sentence (and its subtitle) starts on a chunk of its own.

    A cut chunk is held back until the `right_ms` of audio that follow it are known (more of
    its sentence, or the next sentence's first words), so its last frames see the audio they
    lead into; `release_held` hands them out when no more audio is coming soon.

    Phoneme timings pushed with the audio (counted from the sentence's first sample) go with
    each chunk of a sentence that has them, cut to its left context and its own audio.
    """

    def __init__(
        self,
        *,
        first_chunk_samples: int = FIRST_CHUNK_SAMPLES,
        max_chunk_samples: int = MAX_CHUNK_SAMPLES,
        context_ms: float = LEFT_CONTEXT_MS,
        right_ms: float = RIGHT_CONTEXT_MS,
    ) -> None:
        _check_frame_multiple(first_chunk_samples, "first_chunk_samples")
        _check_frame_multiple(max_chunk_samples, "max_chunk_samples")
        self.first_chunk_samples = first_chunk_samples
        self.max_chunk_samples = max_chunk_samples
        self.context_ms = context_ms
        self.right_samples = max(0, int(round(right_ms * SAMPLE_RATE / 1000.0)))
        self.reset()

    def reset(self) -> None:
        """Start a new turn: everything cut or pending is dropped."""
        self._pending = np.zeros(0, dtype=np.int16)
        self._history = np.zeros(0, dtype=np.int16)
        self._held: list[LipSyncChunk] = []
        self._frames_done = 0
        self._sentence = 0
        self._sentence_start = 0  # the current sentence's first sample in the turn
        self._spans: list[PhonemeSpan] = []  # on the turn's timeline, from the newest context on
        self._timed = False  # the current sentence came with phoneme timings

    def _next_sentence(self) -> None:
        self._sentence += 1
        self._sentence_start = self._frames_done * SAMPLES_PER_FRAME
        self._timed = False

    @property
    def _next_size(self) -> int:
        return self.first_chunk_samples if self._frames_done == 0 else self.max_chunk_samples

    def push(self, pcm: np.ndarray, phonemes: tuple[PhonemeSpan, ...] = ()) -> list[LipSyncChunk]:
        """Add TTS audio of the current sentence, and the phonemes the TTS reported with it
        (samples from the sentence's first); return the chunks whose right context is in."""
        if phonemes:
            self._timed = True
            at = self._sentence_start
            self._spans += [PhonemeSpan(p.ipa, at + p.start, at + p.end) for p in phonemes]
        self._pending = np.concatenate([self._pending, np.asarray(pcm, dtype=np.int16)])
        # Strictly more than a chunk: the last full one might be the sentence's last.
        while len(self._pending) > self._next_size:
            self._take(self._next_size, last=False)
        return self._release(final=False)

    def end_sentence(self) -> list[LipSyncChunk]:
        """The sentence's TTS is done: cut what is left, padded, marked last of its sentence.

        The sentence's last chunk is held until the next sentence's audio (or `finish`).
        """
        while len(self._pending) > self._next_size:
            self._take(self._next_size, last=False)
        if len(self._pending):  # never empty after audio: `push` always keeps some back
            self._pending = pad_to_whole_frames(self._pending)
            self._take(len(self._pending), last=True)
        self._next_sentence()
        return self._release(final=False)

    def drop_sentence(self) -> list[LipSyncChunk]:
        """The sentence's speech failed: its uncut audio is dropped, the held chunks go out now.

        What followed them will not play, so they get the right context known so far.
        """
        self._pending = np.zeros(0, dtype=np.int16)
        self._next_sentence()
        return self._release(final=True)

    def release_held(self) -> list[LipSyncChunk]:
        """The held chunks with the right context known now: at the turn's end, or when the
        next sentence is not written yet (a pause, silence, follows)."""
        return self._release(final=True)

    def _release(self, *, final: bool) -> list[LipSyncChunk]:
        released = []
        while self._held:
            after = [c.pcm for c in self._held[1:]] + [self._pending]
            right = np.concatenate(after)[: self.right_samples]
            if len(right) < self.right_samples and not final:
                break
            released.append(replace(self._held.pop(0), right_audio=right.copy()))
        return released

    def _take(self, size: int, *, last: bool) -> None:
        pcm, self._pending = self._pending[:size].copy(), self._pending[size:]
        left = left_context(self._history, ms=self.context_ms)
        start = self._frames_done * SAMPLES_PER_FRAME
        since = start - len(left)
        self._spans = [span for span in self._spans if span.end > since]
        chunk = LipSyncChunk(
            pcm=pcm,
            first_frame=self._frames_done,
            left_audio=left,
            sentence=self._sentence,
            is_last_of_sentence=last,
            # Only a sentence with timings has them: a chunk of one without (its voice gave
            # none) is shaped by its audio, not left silent by its context's phonemes.
            phonemes=phonemes_within(self._spans, since, start + size, shift=since)
            if self._timed
            else (),
        )
        self._frames_done += -(-size // SAMPLES_PER_FRAME)
        keep = int(self.context_ms * SAMPLE_RATE / 1000.0)
        self._history = np.concatenate([self._history, pcm])[-keep:] if keep else self._history
        self._held.append(chunk)
