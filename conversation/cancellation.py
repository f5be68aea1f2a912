"""Stopping an asyncio task the session owns, and waiting with a timeout, without ever
swallowing a cancellation."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has stopped.

    Its CancelledError is expected and absorbed; a CancelledError aimed at the caller (the
    caller itself is being cancelled while it waits) is raised again, never swallowed.
    """
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until `event` is set, at most `timeout` seconds (None: no limit); False on timeout.

    Not `asyncio.wait_for`: on Python 3.11 it returns normally when a cancellation lands in the
    same loop turn as the event, and a turn woken by frames just as a barge-in cancelled it then
    ran on, and its session hung. `asyncio.timeout` tells its own cancellation from others.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
