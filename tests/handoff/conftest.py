from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from handoff import services
from handoff.models import HandOff
from tests.avatars.factories import make_avatar
from tests.conversation.conftest import demo_avatar

__all__ = ["demo_avatar"]  # the baked demo avatar, for the live tests here


@pytest.fixture(autouse=True)
def empty_queues(redis_client: redis.Redis) -> Iterator[None]:
    """Tasks queued by one test must not be seen by the next (no worker consumes them here)."""
    redis_client.delete("lipsync", "speech")
    yield
    redis_client.delete("lipsync", "speech")


def make_agent(username: str = "agent", *, console: bool = True, staff: bool = True):
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw-123456")
    user.is_staff = staff
    user.save()
    if console:
        user.user_permissions.add(Permission.objects.get(codename="use_console"))
    return get_user_model().objects.get(pk=user.pk)  # permissions are cached per instance


def open_handoff(avatar=None, **fields: object) -> HandOff:
    values: dict[str, object] = {
        "avatar_id": (avatar or make_avatar(f"ava-{uuid.uuid4().hex[:8]}")).pk,
        "session_id": str(uuid.uuid4()),
        "channel_name": "specific.test!1",
        "reason": HandOff.Reason.ASKED_FOR_PERSON,
        "language": "en",
    }
    values.update(fields)
    return services.handoff_open(**values)  # type: ignore[arg-type]


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-123456")
    client = Client()
    client.force_login(user)
    return client
