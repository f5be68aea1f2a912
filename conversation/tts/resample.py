"""Streaming polyphase resampler: blocks in, blocks out, no clicks at block boundaries.

It computes exactly what `scipy.signal.resample_poly` computes on the whole signal (same
Kaiser-windowed filter, same delay compensation), carrying the filter history between blocks.
"""

from __future__ import annotations

import functools
from math import gcd

import numpy as np


def _kaiser_lowpass(taps: int, cutoff: float, beta: float = 5.0) -> np.ndarray:
    """`scipy.signal.firwin(taps, cutoff, window=("kaiser", beta))`, in numpy: a windowed sinc
    with unit gain at DC. Importing scipy.signal costs every process two seconds at start."""
    centre = np.arange(taps) - (taps - 1) / 2
    h = cutoff * np.sinc(cutoff * centre) * np.kaiser(taps, beta)
    return np.asarray(h / h.sum())


@functools.lru_cache(maxsize=8)
def _polyphase(up: int, down: int) -> np.ndarray:
    """The filter bank of one rate pair, designed once per process (8,821 taps for 22.05 kHz
    to 16 kHz: milliseconds of CPU that every sentence would otherwise pay again)."""
    max_rate = max(up, down)
    taps = _kaiser_lowpass(20 * max_rate + 1, 1.0 / max_rate) * up
    per_phase = -(-taps.size // up)
    padded = np.zeros(per_phase * up)
    padded[: taps.size] = taps
    # phases[p, j] = h[p + j * up], reversed along j so a row dots a forward input window.
    phases = padded.reshape(per_phase, up).T[:, ::-1].copy()
    phases.setflags(write=False)
    return phases


class StreamResampler:
    """Converts a mono stream from `in_rate` to `out_rate`, one block at a time."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError("sample rates must be positive")
        common = gcd(in_rate, out_rate)
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._up = out_rate // common
        self._down = in_rate // common
        # The same design as resample_poly's default, so a one-shot run is the reference.
        max_rate = max(self._up, self._down)
        if max_rate == 1:  # same rate: the filter would be a pass-through
            self._half_len, self._taps_per_phase = 0, 1
            self._phases = np.ones((1, 1))
            self._reset()
            return
        self._half_len = 10 * max_rate
        self._phases = _polyphase(self._up, self._down)
        self._taps_per_phase = self._phases.shape[1]
        self._reset()

    @property
    def identity(self) -> bool:
        return self._up == self._down

    def _reset(self) -> None:
        history = self._taps_per_phase - 1
        # Virtual zeros before the signal start, as the one-shot filter sees them.
        self._buf = np.zeros(history)
        self._buf_start = -history  # absolute input index of _buf[0]
        self._n_in = 0
        self._n_out = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed the next input block; returns every output sample it makes computable (float64)."""
        samples = np.asarray(block, dtype=np.float64).reshape(-1)
        if self.identity:
            return samples.copy()
        self._buf = np.concatenate([self._buf, samples])
        self._n_in += samples.size
        return self._emit(self._n_in)

    def flush(self) -> np.ndarray:
        """End of stream: returns the tail (the input is padded with zeros) and resets the state."""
        if self.identity:
            return np.zeros(0)
        total = -(-self._n_in * self._up // self._down)
        if total <= self._n_out:
            self._reset()
            return np.zeros(0)
        last_needed = ((total - 1) * self._down + self._half_len) // self._up
        available = self._buf_start + self._buf.size
        if last_needed >= available:
            self._buf = np.concatenate([self._buf, np.zeros(last_needed + 1 - available)])
        tail = self._emit(last_needed + 1, limit=total)
        self._reset()
        return tail

    def _emit(self, n_available: int, *, limit: int | None = None) -> np.ndarray:
        # Output n reads inputs up to i(n) = (n * down + half_len) // up; emit while i(n) exists.
        last = (n_available * self._up - self._half_len - 1) // self._down
        stop = last + 1 if limit is None else min(last + 1, limit)
        if stop <= self._n_out:
            return np.zeros(0)
        t = np.arange(self._n_out, stop, dtype=np.int64) * self._down + self._half_len
        newest = t // self._up - self._buf_start
        window = newest[:, None] + np.arange(1 - self._taps_per_phase, 1)[None, :]
        out = np.einsum("ij,ij->i", self._buf[window], self._phases[t % self._up])
        self._n_out = stop
        # Keep only the history the next output still needs.
        next_first = (stop * self._down + self._half_len) // self._up - self._taps_per_phase + 1
        drop = max(0, min(next_first - self._buf_start, self._buf.size))
        if drop:
            self._buf = self._buf[drop:]
            self._buf_start += drop
        return out
