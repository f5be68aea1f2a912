"""The process's own Redis clients for flags and counters: cancel keys, revoke marks, seats.

The broker and the channel layer keep their own connections. After a Redis restart a pooled
connection fails once: it is retried on a fresh socket instead of failing the caller.
"""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from django.conf import settings

TIMEOUT_S = 2
_RETRY_ON = [redis.ConnectionError]
_sync: redis.Redis | None = None
_async: aioredis.Redis | None = None


def sync_client() -> redis.Redis:
    global _sync
    if _sync is None:
        _sync = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=TIMEOUT_S, retry_on_error=_RETRY_ON
        )
    return _sync


def async_client() -> aioredis.Redis:
    """For the web process's event loop (daphne runs one per process)."""
    global _async
    if _async is None:
        _async = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=TIMEOUT_S, retry_on_error=_RETRY_ON
        )
    return _async
