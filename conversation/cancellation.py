"""Stopping an asyncio task the session owns, and waiting with a timeout, without ever
swallowing a cancellation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0


async def cancel_and_wait(task: asyncio.Task[Any], grace_s: float = STOP_GRACE_S) -> bool:
    """Cancel `task` and wait until it has stopped; False if it has not within `grace_s`.

    Its CancelledError is expected and absorbed, any other exception it ended with is raised;
    a CancelledError aimed at the caller (cancelled while it waits) is raised, never swallowed.
    A task that swallows its cancellation (a bug) is logged and left behind after `grace_s`:
    the caller, a barge-in or a closing session, must go on. Not `await task`: cancelling the
    caller then would be passed on to the stuck task, and the caller would hang with it.
    """
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=grace_s)
    if not done:
        log.error("task %s did not stop within %g s of its cancellation", task.get_name(), grace_s)
        return False
    if not task.cancelled():
        task.result()
    return True


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
