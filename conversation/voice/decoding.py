"""Who decodes next when every core is busy: a final transcript (or the recognition at a pause,
which is the final one unless speech resumes) before a partial, otherwise first come first
served.

A decode holds its slot until its thread has finished, even when the session that asked for it
has gone (a cancelled await cannot stop a running decode), so the number of decodes running at
once never exceeds the slots: one per core, each on its own thread.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from concurrent.futures import Executor
from enum import IntEnum
from typing import TypeVar

T = TypeVar("T")


class Priority(IntEnum):
    FINAL = 0  # the customer waits for it (or will, at the end of this pause)
    PARTIAL = 1  # shown while they speak; fewer of them under load is fine


class DecodeSlots:
    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("need at least one decode slot")
        self.slots = slots
        self._free = slots
        self._order = itertools.count()
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []

    @property
    def running(self) -> int:
        return self.slots - self._free

    @property
    def waiting(self) -> int:
        return sum(1 for *_, f in self._waiting if not f.done())

    async def run(self, priority: Priority, executor: Executor | None, work: Callable[[], T]) -> T:
        """`work()` on `executor` (the loop's default when None) once a slot is free."""
        await self._acquire(priority)
        loop = asyncio.get_running_loop()
        try:
            done = loop.run_in_executor(executor, work)
        except BaseException:
            self._release()
            raise
        # The slot goes back when the thread is done, not when the awaiting task gives up.
        done.add_done_callback(lambda _: self._release())
        return await asyncio.shield(done)

    async def _acquire(self, priority: Priority) -> None:
        if self._free and not self.waiting:
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (int(priority), next(self._order), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # handed a slot in the same instant it was cancelled
            raise

    def _release(self) -> None:
        while self._waiting:
            *_, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)  # the slot passes straight to the best waiting decode
                return
        self._free += 1
