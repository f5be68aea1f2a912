"""Cross-session batching: the chunks a worker holds (any session, any avatar) share MuseTalk's
UNet batches.

Task threads hand their chunk to one `CrossSessionBatcher` and wait for its frames; the
batcher's own thread gathers frames of every chunk in hand, most urgent first (a new answer's
first chunk before later chunks: `RenderRequest.priority`), waits a few milliseconds for more
when the batch is not full, generates them in one pass and hands each chunk its part, which
the chunk's own thread blends into frames. A chunk's
cancel check runs before each batch that would take its frames and again after the pass, so a
barge-in drops that chunk's frames from the batch in flight; the other chunks are unaffected.
Each pass is recorded in the worker's Prometheus metrics (`lipsync_worker/renderers/metrics.py`:
frames and chunks per pass, its time, and each chunk's wait for its first pass).
Plain Python and threads: no Celery, Django or CUDA here.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lipsync_worker.contract import (
    Baked,
    CancelCheck,
    RenderCancelled,
    RenderedFrame,
    StreamState,
)
from lipsync_worker.renderers import metrics

log = logging.getLogger(__name__)


class PlannedChunk(Protocol):
    n_frames: int


@runtime_checkable
class BatchRenderer(Protocol):
    """A renderer whose frames of different chunks can share one batch (MuseTalk)."""

    def plan(self, baked: Baked, audio: np.ndarray, state: StreamState) -> Any: ...

    def generate(self, spans: Sequence[tuple[Any, int, int]]) -> list[Any]:
        """What the accelerator makes of frames start..stop of each planned chunk, in one pass."""
        ...

    def blend_frames(self, plan: Any, start: int, generated: Any) -> list[RenderedFrame]:
        """The chunk's frames from its part of a pass (on the chunk's own thread)."""
        ...


@dataclass(eq=False)
class _Chunk:
    plan: PlannedChunk
    priority: int
    arrival: int
    should_cancel: CancelCheck
    turn_frame: int
    queued: float = field(default_factory=time.perf_counter)  # handed to the loop
    out: queue.SimpleQueue[tuple[int, Any] | BaseException | None] = field(
        default_factory=queue.SimpleQueue
    )
    done: int = 0  # frames handed out so far

    @property
    def left(self) -> int:
        return self.plan.n_frames - self.done


def take_frames(chunks: Sequence[Any], capacity: int) -> list[tuple[Any, int, int]]:
    """(chunk, start, stop) spans filling one batch of `capacity` frames, most urgent first.

    Urgency is (priority, arrival): a new answer's first chunk (priority 0) before the later
    chunks of answers already playing, and in arrival order within a priority. A chunk's
    frames stay in order: its span starts where its last batch stopped.
    """
    spans = []
    for chunk in sorted(chunks, key=lambda c: (c.priority, c.arrival)):
        if capacity <= 0:
            break
        count = min(chunk.left, capacity)
        if count > 0:
            spans.append((chunk, chunk.done, chunk.done + count))
            capacity -= count
    return spans


@dataclass(frozen=True)
class BatchRecord:
    """What one pass rendered: frames and how many chunks they came from (for metrics, tests)."""

    frames: int
    chunks: int
    render_ms: float


class CrossSessionBatcher:
    """One render loop per worker fed by any number of task threads."""

    def __init__(
        self,
        renderer: BatchRenderer,
        *,
        max_frames: int = 32,
        gather_s: float = 0.005,
    ) -> None:
        if max_frames < 1:
            raise ValueError("max_frames must be at least 1")
        self.renderer = renderer
        self.max_frames = max_frames
        self.gather_s = gather_s
        self._chunks: list[_Chunk] = []
        self._arrivals = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self.history: list[BatchRecord] = []  # the last passes, newest last
        self.history_size = 1000

    def render(
        self,
        baked: Baked,
        audio: np.ndarray,
        state: StreamState,
        should_cancel: CancelCheck,
        *,
        priority: int = 0,
    ) -> Iterator[list[RenderedFrame]]:
        """Like `LipSyncRenderer.render`, with this chunk's frames batched with other chunks'."""
        if should_cancel():
            raise RenderCancelled(f"cancelled before frame {state.turn_frame}")
        plan = self.renderer.plan(baked, audio, state)
        if plan.n_frames == 0:
            return
        chunk = _Chunk(plan, priority, next(self._arrivals), should_cancel, state.turn_frame)
        with self._wake:
            self._chunks.append(chunk)
            self._start()
            self._wake.notify()
        try:
            while True:
                item = chunk.out.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                start, generated = item
                # Blending and pasting run here, on the task's thread, beside the other
                # chunks' threads: the loop's thread only feeds the accelerator.
                yield self.renderer.blend_frames(plan, start, generated)
        finally:  # a caller that stops listening takes its chunk out of the loop's hands
            self._finish(chunk, None)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="lipsync-batches", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._chunks:
                    self._wake.wait()
                # A few ms for other sessions' chunks, unless the batch is full already.
                deadline = time.monotonic() + self.gather_s
                while sum(c.left for c in self._chunks) < self.max_frames:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
                chunks = list(self._chunks)
            try:
                self._pass(chunks)
            except Exception as error:  # every chunk of the failed pass reports it
                log.exception("a batch over %d chunks failed", len(chunks))
                for chunk in chunks:
                    self._finish(chunk, error)

    def _pass(self, chunks: list[_Chunk]) -> None:
        live = [c for c in chunks if not self._cancelled(c)]
        spans = take_frames(live, self.max_frames)
        if not spans:
            return
        started = time.perf_counter()
        for chunk, start, _ in spans:
            if start == 0:  # the chunk's render starts with this pass
                metrics.QUEUE_WAIT.observe((started - chunk.queued) * 1000)
        try:
            rendered: list[Any] = list(
                self.renderer.generate([(c.plan, a, b) for c, a, b in spans])
            )
        except Exception:
            if len(spans) == 1:
                raise
            # One chunk's fault (a broken bake) must not cost the other sessions their frames.
            log.warning("a batch of %d chunks failed: rendering them one by one", len(spans))
            rendered = [self._alone(chunk, a, b) for chunk, a, b in spans]
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._record(BatchRecord(sum(b - a for _, a, b in spans), len(spans), elapsed_ms))
        for (chunk, start, stop), generated in zip(spans, rendered, strict=True):
            if generated is None or self._cancelled(chunk):  # cancelled in the pass: dropped
                continue
            chunk.done = stop
            chunk.out.put((start, generated))
            if chunk.left == 0:
                self._finish(chunk, None)

    def _alone(self, chunk: _Chunk, start: int, stop: int) -> Any:
        try:
            (generated,) = self.renderer.generate([(chunk.plan, start, stop)])
        except Exception as error:
            log.exception("a chunk's frames %d..%d failed", start, stop)
            self._finish(chunk, error)
            return None
        return generated

    def _cancelled(self, chunk: _Chunk) -> bool:
        try:
            cancelled = chunk.should_cancel()
        except Exception as error:  # the check itself failed (Redis away): the task decides
            self._finish(chunk, error)
            return True
        if cancelled:
            frame = chunk.turn_frame + chunk.done
            self._finish(chunk, RenderCancelled(f"cancelled before frame {frame}"))
        return cancelled

    def _finish(self, chunk: _Chunk, outcome: BaseException | None) -> None:
        with self._wake:
            if chunk in self._chunks:
                self._chunks.remove(chunk)
                chunk.out.put(outcome)

    def _record(self, record: BatchRecord) -> None:
        metrics.BATCH_FRAMES.observe(record.frames)
        metrics.BATCH_CHUNKS.observe(record.chunks)
        metrics.BATCH_RENDER.observe(record.render_ms)
        self.history.append(record)
        del self.history[: -self.history_size]
