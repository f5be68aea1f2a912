"""Renderer throughput on one core: frames per second and ms per one-second chunk (p50, p95).

A pure function over a renderer and a baked avatar, so a management command, a test or a GPU
box can call it alike. OpenCV's own thread pool is pinned to one thread while measuring and
restored after, so the figure is per core and comparable across machines.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import cv2
import numpy as np

from lipsync_worker.contract import (
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    Baked,
    LipSyncRenderer,
    StreamState,
)


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Syllable-rate amplitude-modulated noise with pauses: the mouth opens and closes as in speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    envelope *= np.sin(2 * np.pi * t / 3.0) > -0.5  # a pause of a second every three
    return (rng.normal(0, 6000, t.size) * envelope).astype(np.int16)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def bench_renderer(
    renderer: LipSyncRenderer, baked: Baked, seconds: float = 10.0
) -> dict[str, Any]:
    """Render `seconds` of speech-like audio in one-second chunks, as a turn streams them."""
    audio = speech_like(seconds)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        warm = audio[:SAMPLE_RATE]
        for _ in renderer.render(baked, warm, StreamState(), lambda: False):
            pass  # first-call costs (allocation, lazy imports) are not throughput
        chunk_ms: list[float] = []
        frames = 0
        crop = ""
        started = time.perf_counter()
        for i in range(0, len(audio), SAMPLE_RATE):
            state = StreamState(
                turn_frame=i // SAMPLES_PER_FRAME,
                left_audio=audio[max(0, i - SAMPLE_RATE) : i],
            )
            chunk_started = time.perf_counter()
            for batch in renderer.render(baked, audio[i : i + SAMPLE_RATE], state, lambda: False):
                frames += len(batch)
                crop = f"{batch[0].image.shape[1]}x{batch[0].image.shape[0]}"
            chunk_ms.append((time.perf_counter() - chunk_started) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        cv2.setNumThreads(threads)
    fps = frames / elapsed if elapsed > 0 else 0.0
    return {
        "renderer": renderer.kind,
        "seconds": seconds,
        "frames": frames,
        "frames_per_second": round(fps, 1),
        "realtime_factor": round(fps * SAMPLES_PER_FRAME / SAMPLE_RATE, 2),
        "chunk_ms_p50": round(statistics.median(chunk_ms), 2),
        "chunk_ms_p95": round(_percentile(chunk_ms, 0.95), 2),
        "crop": crop,
        "threads": 1,
    }
