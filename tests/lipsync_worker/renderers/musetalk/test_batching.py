"""Cross-session batching on tiny random MuseTalk models: the same frames as one chunk at a time,
cancelled chunks give nothing, urgent chunks go first, a failing batch fails only its chunks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pytest
from prometheus_client import REGISTRY

from lipsync_worker.contract import Baked, RenderCancelled, RenderedFrame, StreamState
from lipsync_worker.renderers.musetalk.batching import CrossSessionBatcher, take_frames
from lipsync_worker.renderers.musetalk.renderer import MuseTalkRenderer
from tests.lipsync_worker.renderers.musetalk.conftest import speech_like

HALF = 9_600  # 15 frames


@dataclass
class Session:
    """One speaking session's chunk: its avatar, audio and place in its turn."""

    baked: Baked
    audio: np.ndarray
    state: StreamState
    priority: int = 0


def other_avatar(baked: Baked) -> Baked:
    """A second avatar for the renderer: another idle cycle, other latents, another box."""
    arrays = dict(baked.arrays)
    arrays["masked_latents"] = arrays["masked_latents"][::-1].copy()
    arrays["reference_latents"] = arrays["reference_latents"][::-1].copy() * 0.5
    return replace(baked, frames=baked.frames[::-1].copy(), arrays=arrays)


@pytest.fixture(scope="module")
def sessions(baked: Baked, speech: np.ndarray) -> list[Session]:
    second = other_avatar(baked)
    other_speech = speech_like(1.0, seed=3)
    return [
        Session(baked, speech[:HALF], StreamState(idle_start=0, right_audio=speech[HALF:12_800])),
        Session(
            second,
            other_speech[HALF:],
            StreamState(idle_start=2, turn_frame=15, left_audio=other_speech[:HALF]),
            priority=1,
        ),
        Session(baked, speech[:4_000], StreamState(idle_start=4)),  # a partial last frame
    ]


def alone(renderer: MuseTalkRenderer, session: Session) -> list[RenderedFrame]:
    batches = renderer.render(session.baked, session.audio, session.state, lambda: False)
    return [f for batch in batches for f in batch]


def run_together(
    batcher: CrossSessionBatcher,
    sessions: list[Session],
    cancels: list[Callable[[], bool]] | None = None,
) -> list[list[RenderedFrame] | BaseException]:
    """Every session's chunk from its own thread, as task threads of a worker hand them in."""
    results: list[list[RenderedFrame] | BaseException] = [[] for _ in sessions]
    cancels = cancels or [lambda: False] * len(sessions)

    def one(i: int) -> None:
        s = sessions[i]
        got: list[RenderedFrame] = []
        try:
            for batch in batcher.render(s.baked, s.audio, s.state, cancels[i], priority=s.priority):
                got.extend(batch)
        except Exception as error:
            results[i] = error
            return
        results[i] = got

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


def images(frames: list[RenderedFrame]) -> np.ndarray:
    return np.stack([f.image for f in frames]).astype(np.int16)


def test_cross_session_batch_gives_the_frames_of_one_chunk_at_a_time(
    renderer: MuseTalkRenderer, sessions: list[Session]
) -> None:
    total = 15 + 10 + 7
    # The batch is full only with every session's frames: the loop waits for all three.
    batcher = CrossSessionBatcher(renderer, max_frames=total, gather_s=120.0)
    together = run_together(batcher, sessions)
    assert [(r.frames, r.chunks) for r in batcher.history] == [(total, 3)]
    for session, frames in zip(sessions, together, strict=True):
        assert isinstance(frames, list)
        expected = alone(renderer, session)
        assert [(f.index, f.idle_index, f.box) for f in frames] == [
            (f.index, f.idle_index, f.box) for f in expected
        ]
        assert np.abs(images(frames) - images(expected)).max() <= 1


def test_cross_session_cancelled_chunk_frames_never_leave_while_the_others_do(
    renderer: MuseTalkRenderer, sessions: list[Session]
) -> None:
    """The second session is cancelled while its frames are in the batch: they are dropped."""
    calls: list[int] = []

    def cancelled_during_the_pass() -> bool:
        calls.append(1)
        return len(calls) > 2  # at the start, before the pass: no; after the pass: yes

    batcher = CrossSessionBatcher(renderer, max_frames=32, gather_s=120.0)
    first, second, third = run_together(
        batcher, sessions, [lambda: False, cancelled_during_the_pass, lambda: False]
    )
    assert batcher.history[0].chunks == 3  # its frames were in the batch...
    assert isinstance(second, RenderCancelled)  # ...and none of them left
    assert isinstance(first, list) and isinstance(third, list)
    assert np.abs(images(first) - images(alone(renderer, sessions[0]))).max() <= 1
    assert len(third) == 7


def test_cross_session_cancel_before_a_batch_keeps_the_chunk_out_of_it(
    renderer: MuseTalkRenderer, sessions: list[Session]
) -> None:
    stop = threading.Event()

    def cancel_after_first_batch() -> bool:
        return stop.is_set()

    batcher = CrossSessionBatcher(renderer, max_frames=4, gather_s=0.0)
    session = sessions[0]
    batches = batcher.render(session.baked, session.audio, session.state, cancel_after_first_batch)
    assert [f.index for f in next(batches)] == [0, 1, 2, 3]
    stop.set()
    with pytest.raises(RenderCancelled, match="before frame"):
        next(batches)
    with pytest.raises(RenderCancelled):  # cancelled before it was handed in at all
        next(iter(batcher.render(session.baked, session.audio, session.state, lambda: True)))


def test_cross_session_frames_of_each_chunk_stay_in_order_across_batches(
    renderer: MuseTalkRenderer, sessions: list[Session]
) -> None:
    batcher = CrossSessionBatcher(renderer, max_frames=6, gather_s=0.0)
    together = run_together(batcher, sessions)
    for session, frames in zip(sessions, together, strict=True):
        assert isinstance(frames, list)
        first = session.state.turn_frame
        assert [f.index for f in frames] == list(range(first, first + len(frames)))
        assert np.abs(images(frames) - images(alone(renderer, session))).max() <= 1
    assert all(r.frames <= 6 for r in batcher.history)


@dataclass
class Waiting:
    priority: int
    arrival: int
    done: int
    n_frames: int

    @property
    def left(self) -> int:
        return self.n_frames - self.done


def test_cross_session_batches_take_a_new_answers_first_chunk_first() -> None:
    later = Waiting(priority=3, arrival=0, done=0, n_frames=25)
    also_later = Waiting(priority=3, arrival=1, done=20, n_frames=25)
    first_chunk = Waiting(priority=0, arrival=2, done=0, n_frames=10)
    assert take_frames([later, also_later, first_chunk], 16) == [
        (first_chunk, 0, 10),
        (later, 0, 6),
    ]
    assert take_frames([later, also_later], 32) == [(later, 0, 25), (also_later, 20, 25)]
    assert take_frames([Waiting(0, 0, 10, 10)], 8) == []


def test_cross_session_a_failing_chunk_fails_alone_and_the_loop_goes_on(
    renderer: MuseTalkRenderer, sessions: list[Session]
) -> None:
    broken = replace(sessions[0].baked, arrays={**sessions[0].baked.arrays})
    broken.arrays["masked_latents"] = broken.arrays["masked_latents"][:, :2]  # 2 channels, not 4
    batcher = CrossSessionBatcher(renderer, max_frames=22, gather_s=120.0)
    bad = replace(sessions[0], baked=broken)
    failed, fine = run_together(batcher, [bad, sessions[2]])
    assert batcher.history[0].chunks == 2  # they were in one batch
    assert isinstance(failed, RuntimeError)  # the UNet refuses 6 input channels
    assert isinstance(fine, list)
    assert np.abs(images(fine) - images(alone(renderer, sessions[2]))).max() <= 1
    batcher.gather_s = 0.0  # one chunk alone next: no need to wait for company
    (after,) = run_together(batcher, [sessions[1]])
    assert isinstance(after, list) and len(after) == 10


def test_cross_session_a_chunk_whose_task_stops_listening_leaves_the_loop(
    renderer: MuseTalkRenderer, sessions: list[Session]
) -> None:
    go_on = threading.Event()
    calls: list[int] = []

    def check_held_at_the_second_pass() -> bool:
        calls.append(1)
        if len(calls) == 4:  # start, before and after pass one, then before pass two
            go_on.wait(60)  # holds pass two until the task has let go
        return False

    batcher = CrossSessionBatcher(renderer, max_frames=4, gather_s=0.0)
    session = sessions[0]
    batches = batcher.render(
        session.baked, session.audio, session.state, check_held_at_the_second_pass
    )
    assert len(next(batches)) == 4
    batches.close()  # the task ended early: the rest of its 15 frames is not rendered
    go_on.set()
    (after,) = run_together(batcher, [sessions[2]])
    assert isinstance(after, list) and len(after) == 7
    # Pass two may have been under way when the task let go, never a third: 15 were asked.
    assert sum(r.frames for r in batcher.history) in (4 + 7, 4 + 4 + 7)


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_cross_session_metrics_count_each_pass_and_each_chunks_wait(
    renderer: MuseTalkRenderer, sessions: list[Session]
) -> None:
    """After a real batched render the worker's metrics hold every pass and every chunk."""
    names = (
        "lipsync_batch_frames_count",
        "lipsync_batch_frames_sum",
        "lipsync_batch_chunks_sum",
        "lipsync_batch_render_ms_count",
        "lipsync_queue_wait_ms_count",
    )
    before = {name: sample(name) for name in names}
    batcher = CrossSessionBatcher(renderer, max_frames=6, gather_s=0.0)
    together = run_together(batcher, sessions)
    assert all(isinstance(frames, list) for frames in together)
    grew = {name: sample(name) - before[name] for name in names}
    passes = len(batcher.history)
    assert grew["lipsync_batch_frames_count"] == passes == grew["lipsync_batch_render_ms_count"]
    assert grew["lipsync_batch_frames_sum"] == 15 + 10 + 7  # every frame in exactly one pass
    assert grew["lipsync_batch_chunks_sum"] == sum(r.chunks for r in batcher.history)
    assert grew["lipsync_queue_wait_ms_count"] == len(sessions)  # once per chunk, at its first
    assert sample("lipsync_batch_frames_bucket", {"le": "+Inf"}) >= passes
