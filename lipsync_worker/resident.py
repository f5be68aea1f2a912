"""Baked avatars resident in worker memory: an LRU bounded by a byte budget."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from lipsync_worker.contract import Baked

log = logging.getLogger(__name__)


class ResidentAvatars:
    """Keeps recently used bakes loaded; evicts the least recently used past the budget.

    The entry in use is never evicted for its own sake, so one avatar bigger than the budget
    still renders (it simply stays alone).
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, Baked] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Baked]) -> Baked:
        with self._lock:
            baked = self._entries.get(key)
            if baked is not None:
                self._entries.move_to_end(key)
                return baked
        baked = load()
        with self._lock:
            self._entries[key] = baked
            self._entries.move_to_end(key)
            self._evict(keep=key)
        return baked

    def drop(self, predicate: Callable[[Hashable], bool]) -> int:
        with self._lock:
            doomed = [key for key in self._entries if predicate(key)]
            for key in doomed:
                del self._entries[key]
        return len(doomed)

    def used_bytes(self) -> int:
        return sum(baked.nbytes() for baked in self._entries.values())

    def keys(self) -> list[Hashable]:
        return list(self._entries)

    def _evict(self, keep: Hashable) -> None:
        while self.used_bytes() > self.budget_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:
                break
            del self._entries[oldest]
            log.info("evicted baked avatar %s from memory", oldest)
