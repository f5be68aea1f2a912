"""The resident-avatar LRU keeps what is used and stays within its byte budget."""

from __future__ import annotations

import numpy as np

from lipsync_worker.contract import Baked, Box
from lipsync_worker.resident import ResidentAvatars


def baked(size_bytes: int) -> Baked:
    frames = np.zeros((1, 1, size_bytes // 3, 3), dtype=np.uint8)
    return Baked("cpu", frames, [Box(0, 0, 1, 1)], {}, {}, out_dir=None)  # type: ignore[arg-type]


def test_loads_once_and_evicts_least_recently_used() -> None:
    loads: list[str] = []

    def loader(name: str, size: int):
        def load() -> Baked:
            loads.append(name)
            return baked(size)

        return load

    cache = ResidentAvatars(budget_bytes=3000)
    cache.get("a", loader("a", 1200))
    cache.get("b", loader("b", 1200))
    cache.get("a", loader("a", 1200))  # hit: a becomes most recent
    cache.get("c", loader("c", 1200))  # over budget: b, the least recent, goes
    assert loads == ["a", "b", "c"]
    assert cache.keys() == ["a", "c"]
    assert cache.used_bytes() <= 3000


def test_an_avatar_bigger_than_the_budget_still_loads_alone() -> None:
    cache = ResidentAvatars(budget_bytes=100)
    cache.get("small", lambda: baked(60))
    cache.get("huge", lambda: baked(900))
    assert cache.keys() == ["huge"]


def test_drop_by_predicate() -> None:
    cache = ResidentAvatars(budget_bytes=10_000)
    for key in [(1, "x"), (1, "y"), (2, "z")]:
        cache.get(key, lambda: baked(30))
    assert cache.drop(lambda key: key[0] == 1) == 2
    assert cache.keys() == [(2, "z")]
