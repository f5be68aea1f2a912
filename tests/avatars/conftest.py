from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.fixture(autouse=True)
def empty_queues(redis_client: redis.Redis) -> Iterator[None]:
    """Tasks queued by one test must not be seen by the next (no worker consumes them here)."""
    redis_client.delete("lipsync", "speech")
    yield
    redis_client.delete("lipsync", "speech")


@pytest.fixture
def staff() -> Client:
    """A logged-in superuser's test client, for the admin."""
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-123456")
    client = Client()
    client.force_login(user)
    return client
