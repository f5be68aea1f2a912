"""Stopping an asyncio task the session owns, without swallowing our own cancellation."""

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
