"""When a spoken answer may be heard: the customer has the floor until they have been silent
for a moment after their last word.

The end of a turn is decided early (the end-of-turn model, about 250 ms into a pause) so that
recognition and the answer start at once; but people pause inside sentences for up to about
700 ms, so the answer's first sound waits until `free_at` (the end of speech plus the hold)
and while any sound that may be speech is heard. Speech that resumes before then continues
the same utterance instead of interrupting an answer nobody has heard (voice/voice_input.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

# However long the customer keeps making sounds that never become speech (a fan, a cough
# after cough), the answer is not held back longer than this after `free_at`.
MAX_EXTRA_HOLD_S = 2.0


# A sound counts as over once this much quiet follows it: speech that resumes flickers for a
# window or two before the VAD is sure of it.
QUIET_S = 0.2


class Floor:
    def __init__(self, free_at: float) -> None:
        self.free_at = free_at
        self.released = False
        self._sound_at = float("-inf")  # when a sound that may be speech was last heard
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._changed = asyncio.Event()  # release() and shorten() wake a waiter before its time

    def hear(self, sound: bool) -> None:
        """Whether the customer's microphone carries a sound that may be speech right now."""
        if sound:
            self._sound_at = time.monotonic()
            self._quiet.clear()
        else:
            self._quiet.set()

    def shorten(self, free_at: float) -> None:
        """The question is whole: the answer may be heard from `free_at` (if that is sooner)."""
        if free_at < self.free_at:
            self.free_at = free_at
            self._changed.set()  # a waiter sleeping toward the old time looks again
            self._changed = asyncio.Event()

    def release(self) -> None:
        """The customer cannot continue (their microphone stopped): the answer may play now."""
        self.free_at = min(self.free_at, time.monotonic())
        self._sound_at = float("-inf")
        self._quiet.set()
        self._changed.set()

    async def wait(self) -> None:
        """Returns when the answer may be heard; from then on speech is a barge-in."""
        while not self.released:
            now = time.monotonic()
            give_up = self.free_at + MAX_EXTRA_HOLD_S
            if now >= give_up:
                break
            if not self._quiet.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(give_up - now):
                        await self._quiet.wait()
                continue
            ready = max(self.free_at, self._sound_at + QUIET_S)
            if now >= ready:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(ready, give_up) - now):
                    await self._changed.wait()
        self.released = True
