"""N simulated speaking sessions through the cross-session batcher: how many keep up at 25 fps.

Each session speaks one chunk (a second of audio, 25 frames) per second, as a worker's task
thread would hand it in, and needs its frames before that second has played: a chunk whose
frames take longer than its own duration is late. Wall-clock pacing: this is a benchmark.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from lipsync_worker.contract import FPS, SAMPLE_RATE, Baked, StreamState
from lipsync_worker.renderers.musetalk.batching import CrossSessionBatcher
from lipsync_worker.renderers.musetalk.renderer import MuseTalkRenderer


@dataclass(frozen=True)
class LoadResult:
    sessions: int
    chunks: int
    late_chunks: int
    fps: float  # frames rendered per second of wall clock, all sessions together
    p50_ms: float  # chunk handed in -> its last frame ready
    p95_ms: float
    mean_batch_frames: float


def simulate(
    renderer: MuseTalkRenderer,
    baked: Baked,
    sessions: int,
    *,
    seconds: int = 5,
    max_frames: int = 32,
    gather_s: float = 0.005,
    chunk_s: float = 1.0,
) -> LoadResult:
    """`sessions` threads, each handing in `seconds` chunks of `chunk_s` at real-time pace."""
    batcher = CrossSessionBatcher(renderer, max_frames=max_frames, gather_s=gather_s)
    rng = np.random.default_rng(7)
    samples = int(chunk_s * SAMPLE_RATE)
    audio = rng.integers(-8000, 8000, samples * (seconds + 1), dtype=np.int16)
    latencies: list[float] = []
    lock = threading.Lock()
    started = time.perf_counter()

    def speak(session: int) -> None:
        start = started + session * chunk_s / max(sessions, 1)  # sessions do not start together
        for k in range(seconds):
            time.sleep(max(0.0, start + k * chunk_s - time.perf_counter()))
            queued = time.perf_counter()
            state = StreamState(
                idle_start=session,
                turn_frame=int(k * chunk_s * FPS),
                left_audio=audio[max(0, (k - 1) * samples) : k * samples],
                right_audio=audio[(k + 1) * samples : (k + 1) * samples + 3200],
            )
            chunk = audio[k * samples : (k + 1) * samples]
            for _ in batcher.render(baked, chunk, state, lambda: False, priority=min(k, 9)):
                pass
            with lock:
                latencies.append(time.perf_counter() - queued)

    threads = [threading.Thread(target=speak, args=(s,)) for s in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    frames = sum(r.frames for r in batcher.history)
    ms = np.array(latencies) * 1000
    return LoadResult(
        sessions=sessions,
        chunks=len(latencies),
        late_chunks=int((ms > chunk_s * 1000).sum()),
        fps=frames / elapsed,
        p50_ms=float(np.percentile(ms, 50)),
        p95_ms=float(np.percentile(ms, 95)),
        mean_batch_frames=frames / max(len(batcher.history), 1),
    )


def most_sessions(
    renderer: MuseTalkRenderer,
    baked: Baked,
    counts: list[int],
    *,
    seconds: int = 5,
    max_frames: int = 32,
    gather_s: float = 0.005,
) -> tuple[int, list[LoadResult]]:
    """The largest of `counts` (tried in order, stopping at the first with a late chunk) that
    had no late chunk, and every run's result."""
    best, results = 0, []
    for count in counts:
        result = simulate(
            renderer, baked, count, seconds=seconds, max_frames=max_frames, gather_s=gather_s
        )
        results.append(result)
        if result.late_chunks:
            break
        best = count
    return best, results
