"""Late chunks: a chunk is due when its turn, started by its first chunk's frames, reaches the
chunk's first frame at 25 fps; sent after that, it is late."""

from __future__ import annotations

from prometheus_client import REGISTRY

from lipsync_worker.renderers.metrics import LateChunks


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counts() -> tuple[float, float]:
    timed = REGISTRY.get_sample_value("lipsync_chunks_timed_total") or 0.0
    return timed, REGISTRY.get_sample_value("lipsync_late_chunks_total") or 0.0


def test_a_chunk_sent_after_its_turn_reached_it_is_late() -> None:
    clock = Clock()
    late = LateChunks(clock=clock)
    timed, lates = counts()
    assert late.sent("turn", 0) is None  # the first chunk starts the turn's clock
    clock.now += 0.39
    assert late.sent("turn", 10) is False  # due 0.4 s in
    clock.now += 0.62
    assert late.sent("turn", 25) is True  # due 1.0 s in, sent at 1.01 s
    assert counts() == (timed + 2, lates + 1)


def test_a_chunk_whose_turn_started_elsewhere_is_not_judged() -> None:
    late = LateChunks(turns=2, clock=Clock())
    timed, lates = counts()
    assert late.sent("other worker's turn", 10) is None
    for turn in ("a", "b", "c"):
        late.sent(turn, 0)
    assert late.sent("a", 10) is None  # forgotten: only the 2 newest turns are kept
    assert late.sent("c", 10) is False
    assert counts() == (timed + 1, lates)
