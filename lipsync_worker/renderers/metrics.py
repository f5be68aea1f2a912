"""Prometheus metrics of a lipsync worker's rendering (in prometheus_client's default registry).

A lipsync worker is one process (Celery's solo pool, or its thread pool when it batches chunks
across sessions), so these live in that process's registry and the worker serves them itself
on `LIPSYNC_METRICS_PORT` (`lipsync_worker/tasks.py`, docs/operations.md). Plain Python: the
renderers and the batching loop record into them without Celery or Django.

Late chunks. A `RenderRequest` carries its turn and the turn frame its audio starts at
(`turn_frame`, 25 per second). The gateway releases a turn's chunks in order when their frames
are back, so the turn starts playing when its first chunk's frames are sent, and the chunk
that starts at turn frame F is due `F / 25` s after that. A chunk is late when its frames are
sent after the moment it was due. The first chunk of a turn sets the clock and is never late
itself (its wait is the time to first word, measured by the web side). A chunk is judged only
when this worker sent its turn's first chunk: a turn whose chunks went to several workers, or
whose first chunk was cancelled, is not counted in `lipsync_chunks_timed_total` either.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from contracts.media import FPS

_FRAME_BUCKETS = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64)
_MS_BUCKETS = (1, 2, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120)

BATCH_FRAMES = Histogram(
    "lipsync_batch_frames",
    "Frames in one UNet pass of the cross-session render loop.",
    buckets=_FRAME_BUCKETS,
)
BATCH_CHUNKS = Histogram(
    "lipsync_batch_chunks",
    "Chunks (sessions' audio chunks) whose frames shared one UNet pass.",
    buckets=_FRAME_BUCKETS,
)
BATCH_RENDER = Histogram(
    "lipsync_batch_render_ms",
    "Time of one UNet pass and VAE decode of the render loop, in ms.",
    buckets=_MS_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "lipsync_queue_wait_ms",
    "From a chunk handed to the render loop to the start of the pass that takes its first "
    "frames, in ms.",
    buckets=_MS_BUCKETS,
)
CHUNKS_TIMED = Counter(
    "lipsync_chunks_timed",
    "Chunks sent whose due time was known (their turn's first chunk was sent by this worker).",
)
LATE_CHUNKS = Counter(
    "lipsync_late_chunks",
    "Chunks whose frames were sent after the moment they were due to play.",
)
DEVICE_LATENTS_BYTES = Gauge(
    "lipsync_device_latents_bytes",
    "Bytes of avatars' latents resident on the render device (GPU memory on a GPU worker).",
)
DEVICE_LATENTS_AVATARS = Gauge(
    "lipsync_device_latents_avatars", "Avatars whose latents are resident on the render device."
)


class LateChunks:
    """Judges each sent chunk against the moment it was due to play (the module's docstring)."""

    def __init__(self, *, turns: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._starts: OrderedDict[str, float] = OrderedDict()  # turn -> its first chunk sent
        self._turns = turns
        self._clock = clock
        self._lock = threading.Lock()

    def sent(self, turn_id: str, turn_frame: int) -> bool | None:
        """Record that the chunk of `turn_id` starting at `turn_frame` was just sent: whether
        it was late, or None when its due time is unknown."""
        now = self._clock()
        with self._lock:
            if turn_frame == 0:
                self._starts[turn_id] = now
                if len(self._starts) > self._turns:  # the oldest turns are long over
                    self._starts.popitem(last=False)
                return None
            start = self._starts.get(turn_id)
        if start is None:
            return None
        late = now > start + turn_frame / FPS
        CHUNKS_TIMED.inc()
        if late:
            LATE_CHUNKS.inc()
        return late
