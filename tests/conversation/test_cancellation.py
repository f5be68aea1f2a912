"""Stopping owned tasks and waiting with a timeout, without losing or swallowing a cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from conversation.cancellation import cancel_and_wait, wait_event


async def test_a_cancelled_task_is_waited_for_and_its_cancellation_absorbed() -> None:
    stopped = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.set()

    task = asyncio.create_task(work())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task) and stopped.is_set() and task.cancelled()


async def test_an_error_the_task_ends_with_is_raised() -> None:
    async def work() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ValueError("broke while stopping") from None

    task = asyncio.create_task(work())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="broke while stopping"):
        await cancel_and_wait(task)


async def test_a_task_that_swallows_its_cancellation_is_left_behind_not_waited_for(
    caplog,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):  # the bug this guards against
                await asyncio.sleep(3600)

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="conversation.cancellation"):
        assert not await cancel_and_wait(task, grace_s=0.2)
    assert "stubborn did not stop" in caplog.text and not task.done()
    release.set()
    task.cancel()
    await asyncio.wait({task})


async def test_the_callers_own_cancellation_is_raised_while_it_waits() -> None:
    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(3600)

    task = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    caller = asyncio.create_task(cancel_and_wait(task))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    task.cancel()
    await asyncio.wait({task})


async def test_wait_event_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert not await wait_event(event, 0.01)
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 10)


async def test_wait_event_never_swallows_a_cancellation_that_meets_the_event() -> None:
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_event(event, 3600))
    await asyncio.sleep(0)
    event.set()  # the wake-up and the cancellation land in the same loop turn
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
