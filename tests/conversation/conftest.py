from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from avatars.models import Avatar
from lipsync_worker.tasks import bake_avatar


@pytest.fixture
def demo_avatar(transactional_db: None) -> Avatar:
    """The demo avatar, baked by the real bake task (run in this process) and ready."""
    call_command("load_demo", stdout=io.StringIO())
    avatar = Avatar.objects.get(slug="demo")
    bake_avatar(avatar.pk)
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.READY, avatar.status_reason
    return avatar
