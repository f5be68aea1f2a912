from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis


@pytest.fixture(autouse=True)
def empty_queues(redis_client: redis.Redis) -> Iterator[None]:
    """Tasks queued by one test must not be seen by the next (no worker consumes them here)."""
    redis_client.delete("lipsync", "speech")
    yield
    redis_client.delete("lipsync", "speech")
