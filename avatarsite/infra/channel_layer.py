"""The Redis channel layer, with a receive that waits out a Redis restart instead of raising.

A consumer whose channel receive raises is torn down by daphne (a traceback, close 1011) and the
customer's conversation with it. Waiting keeps the session: what was sent to it while Redis was
away is lost (lip-sync frames then time out into audio over the idle loop), and the consumer's
heartbeat joins its avatar's group again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RETRY_MAX_S = 2.0


class RestartTolerantChannelLayer(RedisChannelLayer):
    _lost_since: float | None = None  # one warning per outage per process, not per session

    async def receive(self, channel: str) -> dict[str, Any]:
        delay = 0.1
        while True:
            try:
                message: dict[str, Any] = await super().receive(channel)
            except (RedisError, OSError) as error:
                if self._lost_since is None:
                    self._lost_since = time.monotonic()
                    log.warning(
                        "Redis unreachable (%s); sessions wait for it", type(error).__name__
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if self._lost_since is not None:
                log.info("Redis back after %.1f s", time.monotonic() - self._lost_since)
                self._lost_since = None
            return message
