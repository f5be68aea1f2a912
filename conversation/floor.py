"""When a spoken answer may be heard: the customer has the floor until they have been silent
for a moment after their last word.

The end of a turn is decided early (at the customer's first pause) so that recognition and
the answer start at once; but people pause inside sentences for up to about 700 ms, so the
answer's first sound waits until `free_at` (the end of speech plus the hold), and until the
audio up to then has been heard and was quiet: when the event loop runs late, the audio that
would show the customer talking again may still be waiting in the inbox, so the clock alone
is not enough. Speech that resumes before then continues the same utterance instead of
interrupting an answer nobody has heard (voice/voice_input.py).
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
        self._heard_at = float("-inf")  # when the last audio judged so far arrived
        self._sound_at = float("-inf")  # when audio that may be speech last arrived
        self._sound = False
        self._changed = asyncio.Event()  # audio judged, hold shortened, or released

    def hear(self, sound: bool, at: float) -> None:
        """Audio that arrived at `at` was judged: `sound` if it may be speech."""
        self._heard_at = max(self._heard_at, at)
        self._sound = sound
        if sound:
            self._sound_at = at
        self._wake()

    def shorten(self, free_at: float) -> None:
        """The question is whole: the answer may be heard from `free_at` (if that is sooner)."""
        if free_at < self.free_at:
            self.free_at = free_at
            self._wake()

    def release(self) -> None:
        """The customer cannot continue (their microphone stopped): the answer may play now."""
        self.released = True
        self._wake()

    async def wait(self) -> None:
        """Returns when the answer may be heard; from then on speech is a barge-in."""
        while not self.released:
            now = time.monotonic()
            give_up = self.free_at + MAX_EXTRA_HOLD_S
            ready = max(self.free_at, self._sound_at + QUIET_S)
            if now >= give_up or (not self._sound and self._heard_at >= ready):
                break
            # Wait for the next judged audio, or for the time the floor would be free.
            wake_at = give_up if self._sound or now >= ready else ready
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wake_at - now, 0.0)):
                    await changed.wait()
        self.released = True

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
