"""The floor: a spoken answer is heard only after the customer's silence, judged on audio that
actually arrived, never over a sound."""

from __future__ import annotations

import asyncio
import time

from conversation.floor import QUIET_S, Floor


class Microphone:
    """Feeds the floor one judged 20 ms frame at a time, like VoiceInput does."""

    def __init__(self, floor: Floor) -> None:
        self.floor = floor

    async def frames(self, seconds: float, *, sound: bool) -> None:
        for _ in range(round(seconds / 0.02)):
            await asyncio.sleep(0.02)
            self.floor.hear(sound, time.monotonic())


async def test_the_answer_waits_for_free_at_and_quiet_audio_then_plays() -> None:
    floor = Floor(time.monotonic() + 0.2)
    waiter = asyncio.create_task(floor.wait())
    await Microphone(floor).frames(0.1, sound=False)
    assert not waiter.done() and not floor.released
    await Microphone(floor).frames(0.2, sound=False)
    await asyncio.wait_for(waiter, 5)
    assert floor.released


async def test_no_answer_before_the_audio_up_to_free_at_was_heard() -> None:
    """The clock passed free_at, but the audio after it has not been judged (a late loop)."""
    floor = Floor(time.monotonic() + 0.05)
    floor.hear(False, time.monotonic())
    waiter = asyncio.create_task(floor.wait())
    await asyncio.sleep(0.2)
    assert not waiter.done()
    floor.hear(True, time.monotonic())  # the late audio: the customer was talking again
    await asyncio.sleep(0.1)
    assert not waiter.done()
    waiter.cancel()


async def test_a_sound_holds_the_answer_until_quiet_follows_it() -> None:
    floor = Floor(time.monotonic() + 0.05)
    mic = Microphone(floor)
    waiter = asyncio.create_task(floor.wait())
    await mic.frames(0.3, sound=True)
    assert not waiter.done()
    await mic.frames(QUIET_S / 2, sound=False)
    assert not waiter.done()  # not the instant it stopped
    await mic.frames(QUIET_S, sound=False)
    await asyncio.wait_for(waiter, 5)


async def test_shorten_frees_it_sooner() -> None:
    floor = Floor(time.monotonic() + 60)
    mic = Microphone(floor)
    waiter = asyncio.create_task(floor.wait())
    await mic.frames(0.1, sound=False)
    assert not waiter.done()
    floor.shorten(time.monotonic() - 1)
    await mic.frames(0.1, sound=False)
    await asyncio.wait_for(waiter, 5)


async def test_release_frees_it_at_once_even_over_a_sound() -> None:
    floor = Floor(time.monotonic() + 60)
    floor.hear(True, time.monotonic())
    waiter = asyncio.create_task(floor.wait())
    await asyncio.sleep(0.05)
    floor.release()
    await asyncio.wait_for(waiter, 5)


async def test_without_audio_or_with_endless_sound_it_gives_up_holding(monkeypatch) -> None:
    monkeypatch.setattr("conversation.floor.MAX_EXTRA_HOLD_S", 0.1)
    for sound in (None, True):
        floor = Floor(time.monotonic())
        if sound:
            floor.hear(True, time.monotonic())
        await asyncio.wait_for(floor.wait(), 5)
        assert floor.released
