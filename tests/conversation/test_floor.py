"""The floor: a spoken answer is heard only after the customer's silence, never over a sound."""

from __future__ import annotations

import asyncio
import time

from conversation.floor import Floor


async def _released_after(floor: Floor, steps: list[tuple[float, bool | None]]) -> list[int]:
    """Runs `steps` (sleep, then hear(sound) or release() for None) beside floor.wait();
    returns after which steps the floor was found released."""
    waiter = asyncio.create_task(floor.wait())
    seen = []
    for index, (delay, sound) in enumerate(steps):
        await asyncio.sleep(delay)
        if sound is None:
            floor.release()
        else:
            floor.hear(sound)
        await asyncio.sleep(0)
        if waiter.done():
            seen.append(index)
    await asyncio.wait_for(waiter, 5)
    return seen


async def test_the_answer_waits_for_free_at_then_plays() -> None:
    floor = Floor(time.monotonic() + 0.2)
    waiter = asyncio.create_task(floor.wait())
    await asyncio.sleep(0.05)
    assert not waiter.done() and not floor.released
    await asyncio.wait_for(waiter, 5)
    assert floor.released


async def test_a_sound_holds_the_answer_until_quiet_follows_it() -> None:
    floor = Floor(time.monotonic() + 0.05)
    # Sound from 20 ms on, still sounding well after free_at; then quiet.
    seen = await _released_after(floor, [(0.02, True), (0.2, True), (0.05, False), (0.3, False)])
    assert seen and seen[0] == 3  # not while sounding, not the instant it stopped


async def test_a_flicker_of_quiet_inside_speech_does_not_release_it() -> None:
    floor = Floor(time.monotonic() + 0.05)
    steps = [(0.02, True), (0.05, False), (0.02, True), (0.1, True), (0.05, False), (0.4, False)]
    seen = await _released_after(floor, steps)
    assert seen and seen[0] == 5


async def test_release_frees_it_at_once() -> None:
    floor = Floor(time.monotonic() + 60)
    seen = await _released_after(floor, [(0.01, True), (0.01, None)])
    assert seen == [1]


async def test_endless_sound_gives_up_holding(monkeypatch) -> None:
    monkeypatch.setattr("conversation.floor.MAX_EXTRA_HOLD_S", 0.1)
    floor = Floor(time.monotonic())
    floor.hear(True)
    await asyncio.wait_for(floor.wait(), 5)
    assert floor.released
